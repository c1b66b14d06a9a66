//! Typed CloudFormation resource types, generated from AWS's resource provider schemas.
//! (Placeholder until the generator's first run.)
