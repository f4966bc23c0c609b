//! Indexing ops with constant u32 indexes. `index_select`/`embedding` gather whole slices:
//! dL/dx adds v's slices back at their indexes (repeated indexes accumulate); `gather` the same
//! element by element. `scatter_add`/`index_add` into `init`: out = init + Σ src at the indexes,
//! so dL/dinit = v and dL/dsrc = v gathered at the indexes. `scatter` overwrites instead:
//! out = init with src written at the indexes, so dL/dinit = v with the written positions zeroed
//! and dL/dsrc = v gathered. Indexes are repeated where the op allows it.

use super::{Expect, Sample, ids, sample};

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample(
            "index_select",
            "x [4, 3] axis 0, ids [2, 0, 2]",
            &[&[4, 3]],
            |x| x[0].index_select(&ids(&[2, 0, 2], &[3]), 0),
        ),
        sample("index_select", "x [2, 5] axis 1, ids [4, 1]", &[&[2, 5]], |x| {
            x[0].index_select(&ids(&[4, 1], &[2]), 1)
        }),
        sample("embedding", "table [5, 3], ids [1, 4, 1, 0]", &[&[5, 3]], |x| {
            x[0].embedding(&ids(&[1, 4, 1, 0], &[4]))
        }),
        sample(
            "gather",
            "x [3, 4] axis 1, ids [3, 2] with repeats",
            &[&[3, 4]],
            |x| x[0].gather(&ids(&[0, 3, 2, 2, 1, 1], &[3, 2]), 1),
        ),
        sample(
            "scatter_add",
            "init [3, 4] axis 0, src [2, 4]",
            &[&[3, 4], &[2, 4]],
            |x| x[0].scatter_add(&ids(&[2, 0, 1, 2, 0, 0, 2, 1], &[2, 4]), &x[1], 0),
        )
        .expect(Expect::Defect("scatter_add_init")),
        sample(
            "scatter_add",
            "init [2, 3] axis 1, src [2, 3] as large",
            &[&[2, 3], &[2, 3]],
            |x| x[0].scatter_add(&ids(&[2, 0, 0, 1, 1, 2], &[2, 3]), &x[1], 1),
        )
        .expect(Expect::Defect("scatter_add_init")),
        sample(
            "scatter",
            "init [3, 4] axis 0, src [2, 4], no repeats",
            &[&[3, 4], &[2, 4]],
            |x| x[0].scatter(&ids(&[2, 0, 1, 2, 0, 1, 2, 1], &[2, 4]), &x[1], 0),
        )
        .expect(Expect::Defect("scatter_init")),
        sample(
            "index_add",
            "init [4, 2] axis 0, src [3, 2], ids [1, 3, 1]",
            &[&[4, 2], &[3, 2]],
            |x| x[0].index_add(&ids(&[1, 3, 1], &[3]), &x[1], 0),
        ),
    ]
}
