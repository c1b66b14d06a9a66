//! The lambdas' tests: handlers with fixtures (no AWS), against a moto server (real AWS API
//! emulator, started here), and the Kubernetes requests against a loopback listener.

mod approval;
mod corpus;
mod ingest;
mod kube;
mod moto;
mod seams;
mod settings;
mod support;
