//! Integration tests of the checkout service: one test binary, one module per subject.

mod app;
mod exposition;
mod process;
