//! The parts of `synth` that tests and benchmarks share with the binary.

pub mod assets;
