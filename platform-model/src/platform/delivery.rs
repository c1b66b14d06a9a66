//! The delivery pipeline an adopting team runs, generated from the model: one list of steps
//! ([`steps`]) rendered with askama as a Jenkinsfile (as in the seeds) and a GitHub Actions
//! workflow (`templates/Jenkinsfile`, `templates/github-workflow.yml`).
//!
//! On every change: `synth --check` (the committed `out/` is what the code writes), the test
//! suite (snapshots, validators, emulator tests). On a pull request: `synth diff` of each
//! environment, commented on the pull request. On `main`, environment by environment in
//! promotion order (dev, staging, prod): the Lambda zips, the checkout image (built for the
//! nodes' architecture, pushed to the bootstrap stack's repository, the push scan's findings
//! checked), and `synth deploy`; prod waits for a human approval.
//!
//! ```
//! use platform_model::platform::delivery::{Step, steps};
//! use platform_model::settings::{Environment, Settings};
//!
//! let all: Vec<Settings> = Environment::ALL.iter().map(|e| Settings::embedded(*e).unwrap()).collect();
//! let steps = steps(&all, "synth");
//! let deploy_prod = steps.iter().find(|s| s.id == "deploy-prod").unwrap();
//! assert!(deploy_prod.approval);
//! assert_eq!(deploy_prod.needs, ["deploy-staging"]);
//! ```

use askama::Template;

use crate::Error;
use crate::settings::{Architecture, Environment, Settings};

/// When a step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// On every change.
    Always,
    /// On pull requests only.
    PullRequest,
    /// On the main branch only.
    Main,
}

/// One step of the pipeline (a Jenkins stage, a GitHub job).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Job id (`[a-z0-9-]`).
    pub id: String,
    /// Stage title.
    pub title: String,
    /// Shell commands, in order.
    pub commands: Vec<String>,
    /// When it runs.
    pub when: When,
    /// The jobs it waits for.
    pub needs: Vec<String>,
    /// A human approves before it runs.
    pub approval: bool,
    /// GitHub: the secret holding the AWS role to assume (OIDC).
    pub aws_role_secret: Option<String>,
    /// Jenkins: the AWS profile of the environment.
    pub aws_profile: Option<String>,
    /// The region of the environment it acts on.
    pub region: String,
    /// It builds images (Docker buildx, QEMU for another architecture).
    pub docker: bool,
    /// A file commented on the pull request (GitHub).
    pub comment_file: Option<String>,
    /// Files kept with the run.
    pub artifacts: Vec<String>,
}

impl Step {
    fn new(id: &str, title: &str, when: When, commands: Vec<String>) -> Step {
        Step {
            id: id.to_owned(),
            title: title.to_owned(),
            commands,
            when,
            needs: Vec::new(),
            approval: false,
            aws_role_secret: None,
            aws_profile: None,
            region: String::new(),
            docker: false,
            comment_file: None,
            artifacts: Vec::new(),
        }
    }

    fn for_env(mut self, s: &Settings) -> Step {
        let env = s.environment.name();
        self.aws_role_secret = Some(format!("AWS_DEPLOY_ROLE_{}", env.to_ascii_uppercase()));
        self.aws_profile = Some(format!("sre-platform-{env}"));
        self.region = s.region.to_string();
        self
    }
}

/// The image platforms the checkout image is built for: the nodes' architecture when the
/// cluster stack makes them, both otherwise (a brought cluster's nodes are not known).
fn platforms(s: &Settings) -> &'static str {
    match s.cluster.create.as_ref().map(|c| c.nodes.architecture) {
        Some(Architecture::Arm64) => "linux/arm64",
        Some(Architecture::X86_64) => "linux/amd64",
        None => "linux/amd64,linux/arm64",
    }
}

/// The pipeline's steps for these environments (in promotion order), running the synth
/// binary of cargo package `package`.
pub fn steps(envs: &[Settings], package: &str) -> Vec<Step> {
    let synth = format!("cargo run --locked -p {package} --");
    let mut out = vec![
        Step::new(
            "check",
            "generated files are current",
            When::Always,
            vec![format!("{synth} --check")],
        ),
        Step::new(
            "test",
            "tests, snapshots and validators",
            When::Always,
            vec![".ci/test.sh".to_owned()],
        ),
    ];
    let mut envs: Vec<&Settings> = envs.iter().collect();
    envs.sort_by_key(|s| s.environment);
    for s in &envs {
        let env = s.environment.name();
        let file = format!("diff-{env}.md");
        let mut diff = Step::new(
            &format!("diff-{env}"),
            &format!("diff {env}"),
            When::PullRequest,
            vec![format!(
                "{{ echo '### synth diff --env {env}'; echo '```'; {synth} diff --env {env}; echo '```'; }} > {file}"
            )],
        )
        .for_env(s);
        diff.needs = vec!["check".into()];
        diff.comment_file = Some(file.clone());
        diff.artifacts = vec![file];
        out.push(diff);
    }
    let mut previous = "test".to_owned();
    for s in &envs {
        let env = s.environment.name();
        let repo = super::checkout_repository_uri(s);
        let image = super::checkout_image(s);
        let mut deploy = Step::new(
            &format!("deploy-{env}"),
            &format!("deploy {env}"),
            When::Main,
            vec![
                format!("lambdas/build.sh --env {env}"),
                // The stacks first: the bootstrap stack makes the image repository.
                format!("{synth} deploy --env {env} --yes"),
                format!(
                    "aws ecr get-login-password --region {} | docker login --username AWS --password-stdin {}",
                    s.region,
                    repo.split('/').next().unwrap_or_default()
                ),
                format!(
                    "docker manifest inspect {image} >/dev/null 2>&1 || docker buildx build --platform {} -f checkout/Dockerfile -t {image} --push .",
                    platforms(s)
                ),
                format!(
                    "aws ecr wait image-scan-complete --region {} --repository-name {} --image-id imageTag={}",
                    s.region, s.bootstrap.checkout_repository, s.checkout.image_tag
                ),
                format!(
                    "test \"$(aws ecr describe-image-scan-findings --region {} --repository-name {} --image-id imageTag={} --query 'imageScanFindings.findingSeverityCounts.CRITICAL' --output text)\" = None",
                    s.region, s.bootstrap.checkout_repository, s.checkout.image_tag
                ),
            ],
        )
        .for_env(s);
        deploy.needs = vec![previous.clone()];
        deploy.approval = s.environment == Environment::Prod;
        deploy.docker = true;
        previous = deploy.id.clone();
        out.push(deploy);
    }
    out
}

#[derive(Template)]
#[template(path = "Jenkinsfile", escape = "none")]
struct Jenkinsfile<'a> {
    steps: &'a [Step],
}

#[derive(Template)]
#[template(path = "github-workflow.yml", escape = "none")]
struct Workflow<'a> {
    steps: &'a [Step],
    approval_environment: &'a str,
}

/// The pipeline's files, by path below `out/ci/`: `Jenkinsfile` and `github-workflow.yml`.
pub fn files(envs: &[Settings], package: &str) -> Result<Vec<(String, String)>, Error> {
    let steps = steps(envs, package);
    let err = |file: &str, e: askama::Error| Error::Construct {
        construct: format!("ci/{file}"),
        message: e.to_string(),
    };
    let mut jenkins = Jenkinsfile { steps: &steps }
        .render()
        .map_err(|e| err("Jenkinsfile", e))?;
    jenkins.push('\n');
    let mut workflow = Workflow {
        steps: &steps,
        approval_environment: Environment::Prod.name(),
    }
    .render()
    .map_err(|e| err("github-workflow.yml", e))?;
    workflow.push('\n');
    Ok(vec![
        ("Jenkinsfile".to_owned(), jenkins),
        ("github-workflow.yml".to_owned(), workflow),
    ])
}
