#!/usr/bin/env node
// Two ops of examples/ops/ops.json over gradverify's ops protocol (docs/protocol-program-ops.md), in
// plain Node (no package): softplus y = ln(1 + e^x), and one step of a GRU cell
//   z = σ(x Wz + h Uz),  r = σ(x Wr + h Ur),  n = tanh(x Wn + (r ⊙ h) Un),
//   h' = (1 − z) ⊙ n + z ⊙ h.
// Run: gradverify verify --exec "node examples/ops/ops.js" --spec examples/ops/ops.json --op gru_cell
// It also answers describe (with the spec of ops.json, so --spec may be left out) and, for
// softplus, second_backward (--order 2).
// A first argument plants a bug, for the tests: sign, forgotten, upstream, accumulating, forward,
// second (softplus's second_backward without its 1 − σ factor); any other word, "right" say,
// plants none. A second argument "full" leaves forward_steps unanswered (an error), so that the
// verifier sends whole points instead.
"use strict";
const readline = require("readline");
const bug = process.argv[2] || "";
const wholePointsOnly = process.argv[3] === "full";

const zeros = (r, c) => Array.from({ length: r }, () => new Array(c).fill(0));
const map = (a, f) => a.map((row, i) => row.map((v, j) => f(v, i, j)));
const zip = (a, b, f) => a.map((row, i) => row.map((v, j) => f(v, b[i][j])));
const matmul = (a, b) =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const t = (a) => a[0].map((_, j) => a.map((row) => row[j]));
const add = (a, b) => zip(a, b, (u, v) => u + v);
const mul = (a, b) => zip(a, b, (u, v) => u * v);
const sigmoid = (v) => 1 / (1 + Math.exp(-v));

function softplus({ x }) {
  const scale = bug === "forward" ? 2 : 1; // a wrong forward: ln(1 + e^(2x))
  return { y: map(x, (v) => Math.log1p(Math.exp(scale * v))) };
}

let accumulated = null; // the "accumulating" bug: a gradient buffer never zeroed
function softplusBackward({ x }, { y: g }) {
  let dx = zip(x, g, (v, u) => (bug === "upstream" ? 1 : u) * sigmoid(v));
  if (bug === "accumulating") {
    accumulated = accumulated ? add(accumulated, dx) : dx;
    dx = accumulated;
  }
  return { x: dx };
}

// d/dt [v ⊙ σ(x + t d)] at t = 0 = v ⊙ σ(x)(1 − σ(x)) ⊙ d (the "second" bug: v ⊙ σ(x) ⊙ d).
function softplusSecondBackward({ x }, { y: v }, { x: d }) {
  const curvature = (u) => sigmoid(u) * (bug === "second" ? 1 : 1 - sigmoid(u));
  return { x: map(x, (u, i, j) => v[i][j] * curvature(u) * d[i][j]) };
}

function gates({ x, h, Wz, Uz, Wr, Ur, Wn, Un }) {
  const z = map(add(matmul(x, Wz), matmul(h, Uz)), sigmoid);
  const r = map(add(matmul(x, Wr), matmul(h, Ur)), sigmoid);
  const rh = mul(r, h);
  const n = map(add(matmul(x, Wn), matmul(rh, Un)), Math.tanh);
  return { z, r, rh, n };
}

function gru(inputs) {
  const { z, n } = gates(inputs);
  return { h_next: map(z, (zv, i, j) => (1 - zv) * n[i][j] + zv * inputs.h[i][j]) };
}

function gruBackward(inputs, { h_next: g }) {
  const { x, h, Uz, Wz, Wr, Ur, Wn, Un } = inputs;
  const { z, r, rh, n } = gates(inputs);
  // dL/dz = g ⊙ (h − n) (the "sign" bug: n − h); dL/dn = g ⊙ (1 − z).
  const dz = map(g, (v, i, j) => v * (bug === "sign" ? n[i][j] - h[i][j] : h[i][j] - n[i][j]));
  const dn = map(g, (v, i, j) => v * (1 - z[i][j]));
  const dan = map(dn, (v, i, j) => v * (1 - n[i][j] * n[i][j]));
  const drh = matmul(dan, t(Un));
  const dar = map(drh, (v, i, j) => v * h[i][j] * r[i][j] * (1 - r[i][j]));
  const daz = map(dz, (v, i, j) => v * z[i][j] * (1 - z[i][j]));
  // dL/dh: through h' directly (g ⊙ z; the "forgotten" bug leaves it out), through r ⊙ h, and
  // through the two gates.
  let dh = mul(drh, r);
  if (bug !== "forgotten") dh = add(dh, mul(g, z));
  dh = add(dh, add(matmul(dar, t(Ur)), matmul(daz, t(Uz))));
  const dx = add(matmul(dan, t(Wn)), add(matmul(dar, t(Wr)), matmul(daz, t(Wz))));
  return {
    x: dx, h: dh,
    Wz: matmul(t(x), daz), Uz: matmul(t(h), daz),
    Wr: matmul(t(x), dar), Ur: matmul(t(h), dar),
    Wn: matmul(t(x), dan), Un: matmul(t(rh), dan),
  };
}

const OPS = {
  softplus: { forward: softplus, backward: softplusBackward, secondBackward: softplusSecondBackward },
  gru_cell: { forward: gru, backward: gruBackward },
};

// forward_steps: each step moves one element of the base point to plus and to minus; the answer
// is the term-wise  Σ v_j (up_j − down_j)  and  Σ |v_j| (|up_j| + |down_j|)  over the outputs that
// changed, v the cotangents.
const count = (a) => (Array.isArray(a) ? a.length * count(a[0]) : 1);
const flatten = (a) => (Array.isArray(a) ? a.flat(Infinity) : [a]);

// The innermost list holding element `flat` (row-major) of a nested list, and its index there.
function locate(a, flat) {
  while (Array.isArray(a[0])) {
    const size = count(a[0]);
    a = a[Math.floor(flat / size)];
    flat %= size;
  }
  return [a, flat];
}

function forwardSteps(op, { inputs, cotangents, steps }) {
  const valid = steps.every(([name, flat]) => Array.isArray(inputs[name]) && flat >= 0 && flat < count(inputs[name]));
  if (!valid) return { error: "forward_steps: a step names no input or element of the op" };
  const differences = steps.map(([name, flat, plus, minus]) => {
    const [list, at] = locate(inputs[name], flat);
    const theta = list[at];
    list[at] = plus;
    const up = op.forward(inputs);
    list[at] = minus;
    const down = op.forward(inputs);
    list[at] = theta;
    let [difference, magnitude] = [0, 0];
    for (const key of Object.keys(up)) {
      const [u, d, v] = [flatten(up[key]), flatten(down[key]), flatten(cotangents[key])];
      let [ds, dm] = [0, 0];
      u.forEach((uj, j) => {
        if (uj !== d[j]) {
          ds += v[j] * (uj - d[j]);
          dm += Math.abs(v[j]) * (Math.abs(uj) + Math.abs(d[j]));
        }
      });
      [difference, magnitude] = [difference + ds, magnitude + dm];
    }
    return [difference, magnitude];
  });
  return { differences };
}
// The answer to describe: the spec of examples/ops/ops.json.
const matrix = (name, rows, cols) => ({ name, shape: [rows, cols] });
const SPEC = {
  protocol: "gradverify-ops/1",
  ops: [
    { name: "softplus", dims: { B: 3, D: 4 }, inputs: [matrix("x", "B", "D")], outputs: ["y"] },
    {
      name: "gru_cell",
      dims: { B: 2, I: 3, H: 4 },
      inputs: [
        matrix("x", "B", "I"), matrix("h", "B", "H"),
        matrix("Wz", "I", "H"), matrix("Uz", "H", "H"),
        matrix("Wr", "I", "H"), matrix("Ur", "H", "H"),
        matrix("Wn", "I", "H"), matrix("Un", "H", "H"),
      ],
      outputs: ["h_next"],
    },
  ],
};

function answer(request) {
  const op = OPS[request.op];
  if (request.call === "describe") return SPEC;
  if (!op) return { error: "unsupported op" };
  if (request.call === "forward") return { outputs: request.points.map(op.forward) };
  if (request.call === "backward") return { grads: op.backward(request.inputs, request.cotangents) };
  if (request.call === "forward_steps" && !wholePointsOnly) return forwardSteps(op, request);
  if (request.call === "second_backward") {
    if (!op.secondBackward) return { error: "unsupported op" };
    return { grads: op.secondBackward(request.inputs, request.cotangents, request.directions) };
  }
  return { error: `unknown call ${request.call}` };
}

readline.createInterface({ input: process.stdin }).on("line", (line) => {
  const request = JSON.parse(line);
  process.stdout.write(JSON.stringify({ id: request.id, ...answer(request) }) + "\n");
});
