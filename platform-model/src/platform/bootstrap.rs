//! The bootstrap stack (`sre-bootstrap`): what the other stacks need before they deploy. The
//! assets bucket (the Lambda code and the templates over CloudFormation's inline limit are
//! uploaded to it before the pipeline stack deploys) and the checkout service's image
//! repository (the image is pushed before its Deployment is applied).
//!
//! Its outputs are [`Input::AssetsBucket`] (read by the pipeline stack's `AssetsBucket`
//! parameter) and the repository's URI and ARN.
//!
//! ```
//! use platform_model::platform::bootstrap_stack;
//! use platform_model::settings::{Environment, Settings};
//!
//! let settings = Settings::embedded(Environment::Prod).unwrap();
//! let json = bootstrap_stack(&settings)?.to_json()?;
//! let repo = &json["Resources"]["CheckoutRepository"]["Properties"];
//! assert_eq!(repo["ImageTagMutability"], "IMMUTABLE");
//! assert_eq!(repo["ImageScanningConfiguration"]["ScanOnPush"], true);
//! let bucket = &json["Resources"]["PlatformAssetsBucket"]["Properties"];
//! assert_eq!(bucket["VersioningConfiguration"]["Status"], "Enabled");
//! assert_eq!(bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"], true);
//! # Ok::<(), platform_model::Error>(())
//! ```

use serde_json::json;

use super::topology::{BOOTSTRAP_STACK, Input};
use crate::Error;
use crate::aws::Tags;
use crate::aws::iam::{PolicyDocument, Principal, Statement};
use crate::cfn::{Attributes, Expr, Output, Template};
use crate::resources::ecr::{Repository, repository};
use crate::resources::s3::{Bucket, BucketPolicy, bucket};
use crate::settings::Settings;

/// The output holding the checkout repository's URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`).
pub const CHECKOUT_REPOSITORY_URI: &str = "CheckoutRepositoryUri";

/// The checkout repository's URI (`<account>.dkr.ecr.<region>.amazonaws.com/<name>`). ECR fixes
/// it by the account, region and name, so the Kubernetes YAML and the delivery pipeline (written
/// at synth time) name the same repository the stack creates.
pub fn checkout_repository_uri(settings: &Settings) -> String {
    format!(
        "{}.dkr.ecr.{}.amazonaws.com/{}",
        settings.account_id, settings.region, settings.bootstrap.checkout_repository
    )
}

/// The checkout image the cluster runs: the bootstrap stack's repository and the settings' tag.
pub fn checkout_image(settings: &Settings) -> String {
    format!(
        "{}:{}",
        checkout_repository_uri(settings),
        settings.checkout.image_tag
    )
}

/// Checks the bootstrap settings: names AWS would refuse.
pub fn check(settings: &Settings) -> Result<(), Error> {
    let b = &settings.bootstrap;
    let mut problems = Vec::new();
    let bucket_ok = (3..=63).contains(&b.assets_bucket.len())
        && b.assets_bucket
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && b.assets_bucket
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && b.assets_bucket
            .bytes()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !bucket_ok {
        problems.push(format!(
            "bootstrap.assets_bucket ({:?}) is not an S3 bucket name: 3-63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit",
            b.assets_bucket
        ));
    }
    let repo_ok = (2..=256).contains(&b.checkout_repository.len())
        && b.checkout_repository.bytes().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'_' | b'.' | b'/')
        })
        && b.checkout_repository
            .bytes()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !repo_ok {
        problems.push(format!(
            "bootstrap.checkout_repository ({:?}) is not an ECR repository name: 2-256 lowercase letters, digits, '-', '_', '.', '/'",
            b.checkout_repository
        ));
    }
    let tag = &settings.checkout.image_tag;
    if tag.is_empty()
        || tag.len() > 128
        || !tag
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        problems.push(format!(
            "checkout.image_tag ({tag:?}) is not an image tag: 1-128 letters, digits, '-', '_', '.'"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Error::Construct {
            construct: BOOTSTRAP_STACK.into(),
            message: problems.join("; "),
        })
    }
}

/// The bootstrap stack.
pub fn bootstrap_stack(settings: &Settings) -> Result<Template, Error> {
    check(settings)?;
    let b = &settings.bootstrap;
    let tags = Tags(settings.tags.clone());
    let mut t = Template::new(
        BOOTSTRAP_STACK,
        "Bootstrap: the assets bucket and the checkout image repository, deployed before every other stack",
    );
    let assets = t.add_with(
        "PlatformAssetsBucket",
        Bucket::new()
            .bucket_name(b.assets_bucket.as_str())
            .bucket_encryption(bucket::BucketEncryption::new(vec![
                bucket::ServerSideEncryptionRule::new()
                    .server_side_encryption_by_default(bucket::ServerSideEncryptionByDefault::new(
                        bucket::SSEAlgorithm::Aes256,
                    ))
                    .bucket_key_enabled(true),
            ]))
            .versioning_configuration(bucket::VersioningConfiguration::new(
                bucket::VersioningConfigurationStatus::Enabled,
            ))
            .public_access_block_configuration(
                bucket::PublicAccessBlockConfiguration::new()
                    .block_public_acls(true)
                    .block_public_policy(true)
                    .ignore_public_acls(true)
                    .restrict_public_buckets(true),
            )
            .ownership_controls(bucket::OwnershipControls::new(vec![
                bucket::OwnershipControlsRule::new()
                    .object_ownership(bucket::ObjectOwnership::BucketOwnerEnforced),
            ]))
            .lifecycle_configuration(bucket::LifecycleConfiguration::new(vec![
                bucket::Rule::new(bucket::RuleStatus::Enabled)
                    .id("expire-replaced-versions")
                    .noncurrent_version_expiration(bucket::NoncurrentVersionExpiration::new(
                        i64::from(b.noncurrent_version_days),
                    ))
                    .abort_incomplete_multipart_upload(
                        bucket::AbortIncompleteMultipartUpload::new(7),
                    )
                    .expired_object_delete_marker(true),
            ]))
            .tags(tags.to_list(|k, v| bucket::Tag::new(k, v))),
        Attributes::new()
            .retain()
            .checkov_skip(
                "CKV_AWS_18",
                "No access log bucket: writes come from the deploy role only and are recorded by CloudTrail; a second bucket for logs of build outputs adds cost and no audit the trail lacks",
            ),
    );
    let policy = PolicyDocument::new()
        .statement(
            Statement::allow(["s3:*"])
                .deny()
                .sid("TlsOnly")
                .principal(Principal::Aws(vec!["*".into()]))
                .on(assets.arn())
                .on(Expr::sub(format!(
                    "${{{}.Arn}}/*",
                    assets.logical_id().as_str()
                )))
                .when("Bool", "aws:SecureTransport", json!("false")),
        )
        .statement(
            Statement::allow(["s3:*"])
                .deny()
                .sid("Tls12OrLater")
                .principal(Principal::Aws(vec!["*".into()]))
                .on(assets.arn())
                .on(Expr::sub(format!(
                    "${{{}.Arn}}/*",
                    assets.logical_id().as_str()
                )))
                .when("NumericLessThan", "s3:TlsVersion", json!(1.2)),
        );
    t.add(
        "PlatformAssetsBucketPolicy",
        BucketPolicy::new(assets.reference(), policy.to_json()),
    );
    let lifecycle = json!({
        "rules": [{
            "rulePriority": 1,
            "description": format!("keep the {} most recent images", b.images_kept),
            "selection": {
                "tagStatus": "any",
                "countType": "imageCountMoreThan",
                "countNumber": b.images_kept
            },
            "action": { "type": "expire" }
        }]
    });
    let repo = t.add_with(
        "CheckoutRepository",
        Repository::new()
            .repository_name(b.checkout_repository.as_str())
            .image_tag_mutability(repository::ImageTagMutability::Immutable)
            .image_scanning_configuration(
                repository::ImageScanningConfiguration::new().scan_on_push(true),
            )
            .encryption_configuration(repository::EncryptionConfiguration::new(
                repository::EncryptionType::Kms,
            ))
            .lifecycle_policy(
                repository::LifecyclePolicy::new().lifecycle_policy_text(lifecycle.to_string()),
            )
            .tags(tags.to_list(|k, v| repository::Tag::new(k, v))),
        Attributes::new().retain(),
    );
    t.output(
        Input::AssetsBucket.output_key(),
        Output::new(assets.reference()).description("The assets bucket's name"),
    );
    t.output(
        CHECKOUT_REPOSITORY_URI,
        Output::new(repo.repository_uri()).description("docker push <uri>:<checkout.image_tag>"),
    );
    t.output(
        "CheckoutRepositoryArn",
        Output::new(repo.arn()).description("The checkout image repository's ARN"),
    );
    Ok(t)
}
