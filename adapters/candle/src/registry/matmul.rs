//! Matrix products, C = A B: dL/dA = V Bᵀ and dL/dB = Aᵀ V, per batch; broadcast batch axes are
//! summed. Shapes are never square (a transposed gradient cannot hide), with a batch of one,
//! with operands that are transposed views (not contiguous), and with one matrix used twice.

use super::{Sample, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("matmul", "[3, 4] @ [4, 5]", &[&[3, 4], &[4, 5]], |x| {
            x[0].matmul(&x[1])
        }),
        sample(
            "matmul",
            "batched [2, 3, 4] @ [2, 4, 2]",
            &[&[2, 3, 4], &[2, 4, 2]],
            |x| x[0].matmul(&x[1]),
        ),
        sample(
            "matmul",
            "B = 1: [1, 2, 3] @ [1, 3, 4]",
            &[&[1, 2, 3], &[1, 3, 4]],
            |x| x[0].matmul(&x[1]),
        ),
        sample(
            "matmul",
            "rank 4 [2, 2, 3, 2] @ [2, 2, 2, 3]",
            &[&[2, 2, 3, 2], &[2, 2, 2, 3]],
            |x| x[0].matmul(&x[1]),
        ),
        sample(
            "matmul",
            "Aᵀ @ B, A [4, 3] not contiguous",
            &[&[4, 3], &[4, 5]],
            |x| x[0].t()?.matmul(&x[1]),
        ),
        sample(
            "matmul",
            "A @ Bᵀ, B [5, 4] not contiguous",
            &[&[3, 4], &[5, 4]],
            |x| x[0].matmul(&x[1].t()?),
        ),
        sample(
            "matmul",
            "Aᵀ @ Bᵀ, batched [2, 4, 3], [2, 2, 4]",
            &[&[2, 4, 3], &[2, 2, 4]],
            |x| x[0].t()?.matmul(&x[1].t()?),
        ),
        sample("matmul", "A used twice: A @ Aᵀ, [3, 5]", &[&[3, 5]], |x| {
            x[0].matmul(&x[0].t()?)
        }),
        sample(
            "broadcast_matmul",
            "[2, 3, 4] @ [4, 5]",
            &[&[2, 3, 4], &[4, 5]],
            |x| x[0].broadcast_matmul(&x[1]),
        ),
        sample("mv", "[3, 4] · [4]", &[&[3, 4], &[4]], |x| x[0].mv(&x[1])),
        sample("dot", "[5] · [5]", &[&[5], &[5]], |x| x[0].dot(&x[1])),
    ]
}
