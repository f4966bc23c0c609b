fn main() {
    for _ in 0..20 {
        gradverify::bench::forward_backward(32, 64).unwrap();
    }
}
