/* Two ops of examples/ops/ops.json over gradverify's ops protocol (docs/protocol-program-ops.md), in
 * plain C with stdio and no library: softplus y = ln(1 + e^x), and one step of a GRU cell
 *   z = σ(x Wz + h Uz),  r = σ(x Wr + h Ur),  n = tanh(x Wn + (r ⊙ h) Un),
 *   h' = (1 − z) ⊙ n + z ⊙ h.
 * Build and run:
 *   cc -O2 -o /tmp/ops examples/ops/ops.c -lm
 *   gradverify verify --exec /tmp/ops --spec examples/ops/ops.json --op gru_cell
 * It also answers describe (with the spec of ops.json, so --spec may be left out) and, for
 * softplus, second_backward (--order 2).
 * A first argument plants a bug, for the tests: sign, forgotten, upstream, accumulating, forward,
 * second (softplus's second_backward without its 1 − σ factor); any other word, "right" say,
 * plants none. A second argument "full" leaves forward_steps unanswered (an error), so that the
 * verifier sends whole points instead.
 * It reads just the JSON the protocol sends (objects, lists, numbers, strings) and every matrix
 * is a list of rows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *bug = "";
static int whole_points_only = 0; /* "full": forward_steps answers an error */

/* ---- JSON values, parsed by recursive descent ---- */
typedef struct Json Json;
struct Json {
    char kind; /* 'n' number, 's' string, 'a' list, 'o' object, 'z' null/true/false */
    double number;
    char *text;
    int count;
    Json **items;
    char **keys;
};

static const char *skip(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

static Json *parse(const char **p);

static char *parse_string(const char **p) {
    const char *s = ++*p; /* past the opening quote; the protocol's keys need no escapes */
    while (**p && **p != '"') *p += (**p == '\\') ? 2 : 1;
    size_t n = (size_t)(*p - s);
    char *out = malloc(n + 1);
    memcpy(out, s, n);
    out[n] = 0;
    if (**p) ++*p;
    return out;
}

static void push(Json *j, Json *item, char *key) {
    j->items = realloc(j->items, sizeof(Json *) * (size_t)(j->count + 1));
    j->keys = realloc(j->keys, sizeof(char *) * (size_t)(j->count + 1));
    j->items[j->count] = item;
    j->keys[j->count] = key;
    j->count++;
}

static Json *parse(const char **p) {
    Json *j = calloc(1, sizeof(Json));
    *p = skip(*p);
    if (**p == '{' || **p == '[') {
        char close = **p == '{' ? '}' : ']';
        j->kind = **p == '{' ? 'o' : 'a';
        ++*p;
        for (*p = skip(*p); **p && **p != close; *p = skip(*p)) {
            char *key = NULL;
            if (j->kind == 'o') {
                key = parse_string(p);
                *p = skip(*p) + 1; /* the colon */
            }
            push(j, parse(p), key);
            *p = skip(*p);
            if (**p == ',') ++*p;
        }
        if (**p) ++*p;
    } else if (**p == '"') {
        j->kind = 's';
        j->text = parse_string(p);
    } else if (**p == 't' || **p == 'f' || **p == 'n') {
        j->kind = 'z';
        while (**p >= 'a' && **p <= 'z') ++*p;
    } else {
        char *end;
        j->kind = 'n';
        j->number = strtod(*p, &end);
        *p = end;
    }
    return j;
}

static Json *get(const Json *j, const char *key) {
    for (int i = 0; j && j->kind == 'o' && i < j->count; i++)
        if (strcmp(j->keys[i], key) == 0) return j->items[i];
    return NULL;
}

static void release(Json *j) {
    if (!j) return;
    for (int i = 0; i < j->count; i++) {
        release(j->items[i]);
        free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->text);
    free(j);
}

/* ---- matrices, row-major ---- */
typedef struct { int rows, cols; double *v; } Mat;

static Mat mat(int rows, int cols) {
    Mat m = {rows, cols, calloc((size_t)(rows * cols) + 1, sizeof(double))};
    return m;
}

static Mat from_json(const Json *j) {
    int rows = j ? j->count : 0, cols = rows ? j->items[0]->count : 0;
    Mat m = mat(rows, cols);
    for (int i = 0; i < rows; i++)
        for (int k = 0; k < cols && k < j->items[i]->count; k++)
            m.v[i * cols + k] = j->items[i]->items[k]->number;
    return m;
}

static void print_mat(Mat m) {
    putchar('[');
    for (int i = 0; i < m.rows; i++) {
        printf(i ? ",[" : "[");
        for (int k = 0; k < m.cols; k++) printf(k ? ",%.17g" : "%.17g", m.v[i * m.cols + k]);
        putchar(']');
    }
    putchar(']');
}

static Mat matmul(Mat a, Mat b, int ta, int tb) { /* op(a) op(b), op = transpose when set */
    int n = ta ? a.cols : a.rows, inner = ta ? a.rows : a.cols, m = tb ? b.rows : b.cols;
    Mat c = mat(n, m);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < inner; k++) {
            double x = ta ? a.v[k * a.cols + i] : a.v[i * a.cols + k];
            for (int j = 0; j < m; j++) c.v[i * m + j] += x * (tb ? b.v[j * b.cols + k] : b.v[k * b.cols + j]);
        }
    return c;
}

static void add_into(Mat a, Mat b) {
    for (int i = 0; i < a.rows * a.cols; i++) a.v[i] += b.v[i];
    free(b.v);
}

static double sigmoid(double v) { return 1.0 / (1.0 + exp(-v)); }

/* ---- the ops ---- */
static Mat softplus_of(Mat x) {
    Mat y = mat(x.rows, x.cols);
    double scale = strcmp(bug, "forward") == 0 ? 2.0 : 1.0; /* a wrong forward: ln(1 + e^(2x)) */
    for (int i = 0; i < x.rows * x.cols; i++) y.v[i] = log1p(exp(scale * x.v[i]));
    return y;
}

static void softplus_forward(const Json *point) {
    Mat x = from_json(get(point, "x")), y = softplus_of(x);
    printf("{\"y\":");
    print_mat(y);
    putchar('}');
    free(x.v);
    free(y.v);
}

static Mat accumulated; /* the "accumulating" bug: a gradient buffer never zeroed */

static void softplus_backward(const Json *inputs, const Json *cotangents) {
    Mat x = from_json(get(inputs, "x")), g = from_json(get(cotangents, "y"));
    for (int i = 0; i < x.rows * x.cols; i++)
        x.v[i] = (strcmp(bug, "upstream") == 0 ? 1.0 : g.v[i]) * sigmoid(x.v[i]);
    if (strcmp(bug, "accumulating") == 0) {
        if (!accumulated.v) accumulated = mat(x.rows, x.cols);
        for (int i = 0; i < x.rows * x.cols; i++) x.v[i] = accumulated.v[i] += x.v[i];
    }
    printf("{\"x\":");
    print_mat(x);
    putchar('}');
    free(x.v);
    free(g.v);
}

/* d/dt [v ⊙ σ(x + t d)] at t = 0 = v ⊙ σ(x)(1 − σ(x)) ⊙ d (the "second" bug: v ⊙ σ(x) ⊙ d). */
static void softplus_second_backward(const Json *inputs, const Json *cotangents, const Json *directions) {
    Mat x = from_json(get(inputs, "x")), v = from_json(get(cotangents, "y")), d = from_json(get(directions, "x"));
    for (int i = 0; i < x.rows * x.cols; i++) {
        double s = sigmoid(x.v[i]);
        x.v[i] = v.v[i] * s * (strcmp(bug, "second") == 0 ? 1.0 : 1.0 - s) * d.v[i];
    }
    printf("{\"x\":");
    print_mat(x);
    putchar('}');
    free(x.v);
    free(v.v);
    free(d.v);
}

typedef struct { Mat x, h, Wz, Uz, Wr, Ur, Wn, Un, z, r, rh, n; } Gru;

static Mat gate(Mat x, Mat W, Mat h, Mat U, double (*f)(double)) {
    Mat a = matmul(x, W, 0, 0);
    add_into(a, matmul(h, U, 0, 0));
    for (int i = 0; i < a.rows * a.cols; i++) a.v[i] = f(a.v[i]);
    return a;
}

static void gru_gates(Gru *gru) {
    Gru g = *gru;
    g.z = gate(g.x, g.Wz, g.h, g.Uz, sigmoid);
    g.r = gate(g.x, g.Wr, g.h, g.Ur, sigmoid);
    g.rh = mat(g.h.rows, g.h.cols);
    for (int i = 0; i < g.h.rows * g.h.cols; i++) g.rh.v[i] = g.r.v[i] * g.h.v[i];
    g.n = gate(g.x, g.Wn, g.rh, g.Un, tanh);
    *gru = g;
}

static Gru gru(const Json *in) {
    Gru g;
    g.x = from_json(get(in, "x")), g.h = from_json(get(in, "h"));
    g.Wz = from_json(get(in, "Wz")), g.Uz = from_json(get(in, "Uz"));
    g.Wr = from_json(get(in, "Wr")), g.Ur = from_json(get(in, "Ur"));
    g.Wn = from_json(get(in, "Wn")), g.Un = from_json(get(in, "Un"));
    gru_gates(&g);
    return g;
}

static Mat gru_next(const Gru *g) {
    Mat out = mat(g->h.rows, g->h.cols);
    for (int i = 0; i < g->h.rows * g->h.cols; i++)
        out.v[i] = (1 - g->z.v[i]) * g->n.v[i] + g->z.v[i] * g->h.v[i];
    return out;
}

static void gru_free(Gru *g) {
    Mat *all[] = {&g->x, &g->h, &g->Wz, &g->Uz, &g->Wr, &g->Ur, &g->Wn, &g->Un, &g->z, &g->r, &g->rh, &g->n};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) free(all[i]->v);
}

static void gru_forward(const Json *point) {
    Gru g = gru(point);
    Mat out = gru_next(&g);
    printf("{\"h_next\":");
    print_mat(out);
    putchar('}');
    free(out.v);
    gru_free(&g);
}

static void gru_backward(const Json *inputs, const Json *cotangents) {
    Gru g = gru(inputs);
    Mat up = from_json(get(cotangents, "h_next"));
    int size = g.h.rows * g.h.cols;
    Mat dz = mat(g.h.rows, g.h.cols), dan = mat(g.h.rows, g.h.cols);
    for (int i = 0; i < size; i++) {
        /* dL/dz = g ⊙ (h − n) (the "sign" bug: n − h); dL/dn = g ⊙ (1 − z) through tanh. */
        double diff = strcmp(bug, "sign") == 0 ? g.n.v[i] - g.h.v[i] : g.h.v[i] - g.n.v[i];
        dz.v[i] = up.v[i] * diff * g.z.v[i] * (1 - g.z.v[i]);
        dan.v[i] = up.v[i] * (1 - g.z.v[i]) * (1 - g.n.v[i] * g.n.v[i]);
    }
    Mat drh = matmul(dan, g.Un, 0, 1), dar = mat(g.h.rows, g.h.cols), dh = mat(g.h.rows, g.h.cols);
    for (int i = 0; i < size; i++) {
        dar.v[i] = drh.v[i] * g.h.v[i] * g.r.v[i] * (1 - g.r.v[i]);
        /* dL/dh through r ⊙ h, and directly through h' (the "forgotten" bug leaves it out). */
        dh.v[i] = drh.v[i] * g.r.v[i] + (strcmp(bug, "forgotten") == 0 ? 0 : up.v[i] * g.z.v[i]);
    }
    add_into(dh, matmul(dar, g.Ur, 0, 1));
    add_into(dh, matmul(dz, g.Uz, 0, 1));
    Mat dx = matmul(dan, g.Wn, 0, 1);
    add_into(dx, matmul(dar, g.Wr, 0, 1));
    add_into(dx, matmul(dz, g.Wz, 0, 1));
    const char *names[] = {"x", "h", "Wz", "Uz", "Wr", "Ur", "Wn", "Un"};
    Mat grads[] = {dx, dh, matmul(g.x, dz, 1, 0), matmul(g.h, dz, 1, 0), matmul(g.x, dar, 1, 0),
                   matmul(g.h, dar, 1, 0), matmul(g.x, dan, 1, 0), matmul(g.rh, dan, 1, 0)};
    putchar('{');
    for (int i = 0; i < 8; i++) {
        printf(i ? ",\"%s\":" : "\"%s\":", names[i]);
        print_mat(grads[i]);
        free(grads[i].v);
    }
    putchar('}');
    free(up.v), free(dz.v), free(dan.v), free(drh.v), free(dar.v);
    gru_free(&g);
}

/* ---- forward_steps: each step moves one element of the base point to plus and to minus; the
 * answer is the term-wise  sum_j v_j (up_j - down_j)  and  sum_j |v_j| (|up_j| + |down_j|)  over
 * the outputs that changed, v the cotangents ---- */
static const char *SOFTPLUS_INPUTS[] = {"x"};
static const char *GRU_INPUTS[] = {"x", "h", "Wz", "Uz", "Wr", "Ur", "Wn", "Un"};

static Mat output_at(int softplus, Mat *in) {
    if (softplus) return softplus_of(in[0]);
    Gru g = {in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7]};
    gru_gates(&g);
    Mat out = gru_next(&g);
    free(g.z.v), free(g.r.v), free(g.rh.v), free(g.n.v);
    return out;
}

static int input_index(const char **names, int count, const Json *name) {
    for (int i = 0; name && name->kind == 's' && i < count; i++)
        if (strcmp(names[i], name->text) == 0) return i;
    return -1;
}

/* Where step s moves an element, or NULL when it names no input or no element. */
static double *stepped_element(Mat *in, const char **names, int count, const Json *s) {
    int i = s && s->count == 4 ? input_index(names, count, s->items[0]) : -1;
    double flat = i < 0 ? -1 : s->items[1]->number;
    return flat >= 0 && flat < in[i].rows * in[i].cols ? &in[i].v[(int)flat] : NULL;
}

static void forward_steps(int softplus, const Json *request) {
    const char **names = softplus ? SOFTPLUS_INPUTS : GRU_INPUTS;
    int count = softplus ? 1 : 8;
    Mat in[8];
    for (int i = 0; i < count; i++) in[i] = from_json(get(get(request, "inputs"), names[i]));
    Mat v = from_json(get(get(request, "cotangents"), softplus ? "y" : "h_next"));
    const Json *steps = get(request, "steps");
    int valid = steps != NULL;
    for (int s = 0; valid && s < steps->count; s++) valid = stepped_element(in, names, count, steps->items[s]) != NULL;
    if (!valid) printf("\"error\":\"forward_steps: a step names no input or element of the op\"}\n");
    else {
        printf("\"differences\":[");
        for (int s = 0; s < steps->count; s++) {
            double *element = stepped_element(in, names, count, steps->items[s]), theta = *element;
            *element = steps->items[s]->items[2]->number;
            Mat up = output_at(softplus, in);
            *element = steps->items[s]->items[3]->number;
            Mat down = output_at(softplus, in);
            *element = theta;
            double difference = 0, magnitude = 0;
            for (int j = 0; j < v.rows * v.cols; j++)
                if (up.v[j] != down.v[j]) {
                    difference += v.v[j] * (up.v[j] - down.v[j]);
                    magnitude += fabs(v.v[j]) * (fabs(up.v[j]) + fabs(down.v[j]));
                }
            printf(s ? ",[%.17g,%.17g]" : "[%.17g,%.17g]", difference, magnitude);
            free(up.v), free(down.v);
        }
        printf("]}\n");
    }
    for (int i = 0; i < count; i++) free(in[i].v);
    free(v.v);
}

/* The answer to describe: the spec of examples/ops/ops.json. */
static const char *SPEC =
    "\"protocol\":\"gradverify-ops/1\",\"ops\":["
    "{\"name\":\"softplus\",\"dims\":{\"B\":3,\"D\":4},"
    "\"inputs\":[{\"name\":\"x\",\"shape\":[\"B\",\"D\"]}],\"outputs\":[\"y\"]},"
    "{\"name\":\"gru_cell\",\"dims\":{\"B\":2,\"I\":3,\"H\":4},\"inputs\":["
    "{\"name\":\"x\",\"shape\":[\"B\",\"I\"]},{\"name\":\"h\",\"shape\":[\"B\",\"H\"]},"
    "{\"name\":\"Wz\",\"shape\":[\"I\",\"H\"]},{\"name\":\"Uz\",\"shape\":[\"H\",\"H\"]},"
    "{\"name\":\"Wr\",\"shape\":[\"I\",\"H\"]},{\"name\":\"Ur\",\"shape\":[\"H\",\"H\"]},"
    "{\"name\":\"Wn\",\"shape\":[\"I\",\"H\"]},{\"name\":\"Un\",\"shape\":[\"H\",\"H\"]}],"
    "\"outputs\":[\"h_next\"]}]";

static int is_call(const Json *call, const char *name) {
    return call && call->kind == 's' && strcmp(call->text, name) == 0;
}

static void answer(const Json *request) {
    const Json *call = get(request, "call"), *op = get(request, "op");
    const char *name = op && op->kind == 's' ? op->text : "";
    int softplus = strcmp(name, "softplus") == 0, gru_cell = strcmp(name, "gru_cell") == 0;
    printf("{\"id\":%.0f,", get(request, "id") ? get(request, "id")->number : 0.0);
    if (is_call(call, "describe")) {
        printf("%s}\n", SPEC);
    } else if (!softplus && !gru_cell) {
        printf("\"error\":\"unsupported op\"}\n");
    } else if (call && strcmp(call->text, "forward") == 0) {
        const Json *points = get(request, "points");
        printf("\"outputs\":[");
        for (int i = 0; points && i < points->count; i++) {
            if (i) putchar(',');
            softplus ? softplus_forward(points->items[i]) : gru_forward(points->items[i]);
        }
        printf("]}\n");
    } else if (call && strcmp(call->text, "backward") == 0) {
        printf("\"grads\":");
        softplus ? softplus_backward(get(request, "inputs"), get(request, "cotangents"))
                 : gru_backward(get(request, "inputs"), get(request, "cotangents"));
        printf("}\n");
    } else if (is_call(call, "forward_steps") && !whole_points_only) {
        forward_steps(softplus, request);
    } else if (is_call(call, "second_backward") && softplus) {
        printf("\"grads\":");
        softplus_second_backward(get(request, "inputs"), get(request, "cotangents"), get(request, "directions"));
        printf("}\n");
    } else if (is_call(call, "second_backward")) {
        printf("\"error\":\"unsupported op\"}\n");
    } else {
        printf("\"error\":\"unknown call\"}\n");
    }
    fflush(stdout);
}

int main(int argc, char **argv) {
    char *line = NULL;
    size_t size = 0;
    if (argc > 1) bug = argv[1];
    if (argc > 2) whole_points_only = strcmp(argv[2], "full") == 0;
    while (getline(&line, &size, stdin) > 0) {
        const char *p = line;
        Json *request = parse(&p);
        answer(request);
        release(request);
    }
    free(line);
    return 0;
}
