//! Property tests of the stand-up stacks (bootstrap, network, cluster) and of bring-your-own
//! mode, over every embedded environment: what must hold of every security group, subnet,
//! node, endpoint and workload role, whatever the settings.

use std::collections::{BTreeMap, BTreeSet};

use platform_model::platform::{Assets, Platform, StackStep};
use platform_model::settings::{Environment, NetworkSettings, Settings};
use serde_json::{Value, json};

fn assets() -> Assets {
    Assets::new(&"a".repeat(64), &"b".repeat(64), &"c".repeat(64))
}

/// Every template of `settings`' environment, by stack name, and the deploy order.
fn synth(settings: &Settings) -> (BTreeMap<String, Value>, Vec<StackStep>) {
    let platform = Platform::standard(settings.clone()).unwrap();
    let files = platform.synthesize(&assets()).unwrap();
    let templates = files
        .iter()
        .filter_map(|f| {
            let stack = f.path.strip_suffix(".template.json")?;
            Some((stack.to_owned(), serde_json::from_str(&f.contents).unwrap()))
        })
        .collect();
    (templates, platform.deploy_order())
}

fn of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn tags(r: &Value) -> BTreeMap<String, Value> {
    r["Properties"]["Tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| (t["Key"].as_str().unwrap().to_owned(), t["Value"].clone()))
        .collect()
}

fn all() -> Vec<(Settings, BTreeMap<String, Value>, Vec<StackStep>)> {
    Environment::ALL
        .into_iter()
        .map(|e| {
            let s = Settings::embedded(e).unwrap();
            let (t, o) = synth(&s);
            (s, t, o)
        })
        .collect()
}

#[test]
fn no_security_group_admits_the_internet() {
    for (s, templates, _) in all() {
        for (stack, t) in &templates {
            for (id, g) in of_type(t, "AWS::EC2::SecurityGroup") {
                for rule in g["Properties"]["SecurityGroupIngress"]
                    .as_array()
                    .into_iter()
                    .flatten()
                {
                    assert_ne!(
                        rule["CidrIp"], "0.0.0.0/0",
                        "{}: {stack}/{id} admits the internet",
                        s.environment
                    );
                    assert!(rule.get("CidrIpv6").is_none(), "{stack}/{id}");
                }
            }
            assert!(
                of_type(t, "AWS::EC2::SecurityGroupIngress").is_empty(),
                "{stack}: ingress rules are part of their group"
            );
        }
    }
}

#[test]
fn every_subnet_is_tagged_for_the_load_balancer_controller_and_private_by_default() {
    for (s, templates, _) in all() {
        let Some(n) = templates.get("sre-network") else {
            continue;
        };
        let NetworkSettings::Create(network) = &s.network else {
            unreachable!()
        };
        let subnets = of_type(n, "AWS::EC2::Subnet");
        assert_eq!(subnets.len(), 2 * network.availability_zones.len());
        let mut cidrs = BTreeSet::new();
        for (id, sn) in subnets {
            let tags = tags(sn);
            let public = tags.get("kubernetes.io/role/elb") == Some(&json!("1"));
            let internal = tags.get("kubernetes.io/role/internal-elb") == Some(&json!("1"));
            assert!(public ^ internal, "{}: {id}: {tags:?}", s.environment);
            assert_eq!(sn["Properties"]["MapPublicIpOnLaunch"], false, "{id}");
            let cidr: ipnet::Ipv4Net = sn["Properties"]["CidrBlock"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(
                network.cidr.net().contains(&cidr),
                "{id}: {cidr} outside the VPC"
            );
            assert!(cidrs.insert(cidr), "{id}: {cidr} twice");
        }
        let cidrs: Vec<_> = cidrs.into_iter().collect();
        for (i, a) in cidrs.iter().enumerate() {
            for b in &cidrs[i + 1..] {
                assert!(!a.contains(b) && !b.contains(a), "{a} and {b} overlap");
            }
        }
        // Private subnets leave through a NAT gateway, public ones through the internet
        // gateway; one NAT per zone in prod, one elsewhere (as the settings say).
        let nats = of_type(n, "AWS::EC2::NatGateway").len();
        let expected = if network.nat_gateway_per_az {
            network.availability_zones.len()
        } else {
            1
        };
        assert_eq!(nats, expected, "{}", s.environment);
        assert_eq!(
            network.nat_gateway_per_az,
            s.environment == Environment::Prod,
            "one NAT per zone in prod only"
        );
        let routes = of_type(n, "AWS::EC2::Route");
        assert_eq!(
            routes
                .iter()
                .filter(|(_, r)| r["Properties"]["NatGatewayId"].is_object())
                .count(),
            network.availability_zones.len()
        );
        assert!(!of_type(n, "AWS::EC2::FlowLog").is_empty(), "flow logs on");
    }
}

#[test]
fn endpoints_admit_only_the_vpc() {
    for (s, templates, _) in all() {
        let Some(n) = templates.get("sre-network") else {
            continue;
        };
        let NetworkSettings::Create(network) = &s.network else {
            unreachable!()
        };
        let endpoints = of_type(n, "AWS::EC2::VPCEndpoint");
        assert_eq!(
            endpoints.len(),
            platform_model::platform::INTERFACE_ENDPOINTS.len()
                + platform_model::platform::GATEWAY_ENDPOINTS.len()
        );
        for (id, e) in endpoints {
            if e["Properties"]["VpcEndpointType"] == "Gateway" {
                continue;
            }
            assert_eq!(e["Properties"]["PrivateDnsEnabled"], true, "{id}");
            for g in e["Properties"]["SecurityGroupIds"].as_array().unwrap() {
                let gid = g["Fn::GetAtt"][0].as_str().unwrap();
                let group = &n["Resources"][gid]["Properties"];
                let ingress = group["SecurityGroupIngress"].as_array().unwrap();
                assert!(!ingress.is_empty(), "{id}");
                for rule in ingress {
                    assert_eq!(rule["CidrIp"], network.cidr.as_str(), "{id}: {rule}");
                    assert_eq!(rule["FromPort"], 443, "{id}");
                    assert_eq!(rule["ToPort"], 443, "{id}");
                }
            }
        }
    }
}

#[test]
fn every_node_requires_imdsv2_and_the_api_is_private() {
    for (s, templates, _) in all() {
        let Some(c) = templates.get("sre-cluster") else {
            assert!(s.cluster.create.is_none());
            continue;
        };
        let create = s.cluster.create.as_ref().unwrap();
        let groups = of_type(c, "AWS::EKS::Nodegroup");
        assert!(!groups.is_empty());
        for (id, g) in groups {
            let lt = g["Properties"]["LaunchTemplate"]["Id"]["Ref"]
                .as_str()
                .unwrap_or_else(|| {
                    panic!("{id}: a node group without this stack's launch template")
                });
            let md = &c["Resources"][lt]["Properties"]["LaunchTemplateData"]["MetadataOptions"];
            assert_eq!(md["HttpTokens"], "required", "{lt}");
            assert_eq!(md["HttpPutResponseHopLimit"], 1, "{lt}");
            let disk = &c["Resources"][lt]["Properties"]["LaunchTemplateData"]["BlockDeviceMappings"]
                [0]["Ebs"];
            assert_eq!(disk["Encrypted"], true);
            assert!(
                g["Properties"].get("DiskSize").is_none(),
                "the disk is the launch template's"
            );
        }
        let (_, cluster) = of_type(c, "AWS::EKS::Cluster")[0];
        let p = &cluster["Properties"];
        assert_eq!(p["ResourcesVpcConfig"]["EndpointPrivateAccess"], true);
        assert_eq!(
            p["ResourcesVpcConfig"]["EndpointPublicAccess"],
            !create.public_access_cidrs.is_empty()
        );
        assert_eq!(p["EncryptionConfig"][0]["Resources"], json!(["secrets"]));
        assert_eq!(
            p["Logging"]["ClusterLogging"]["EnabledTypes"]
                .as_array()
                .unwrap()
                .len(),
            5
        );
        assert_eq!(p["AccessConfig"]["AuthenticationMode"], "API");
        assert_eq!(
            p["AccessConfig"]["BootstrapClusterCreatorAdminPermissions"],
            false
        );
        assert_eq!(p["Name"], s.cluster.name.as_str());
        assert_eq!(p["DeletionProtection"], create.deletion_protection);
        assert_eq!(
            of_type(c, "AWS::EKS::AccessEntry").len(),
            create.admin_role_arns.len()
        );
        assert!(
            of_type(c, "AWS::EKS::Addon")
                .iter()
                .any(|(_, a)| a["Properties"]["AddonName"] == "eks-pod-identity-agent"),
            "Pod Identity needs its agent"
        );
    }
}

#[test]
fn every_workload_role_trusts_only_its_association() {
    for (s, templates, _) in all() {
        let access = &templates["sre-cluster-access"];
        let associations = of_type(access, "AWS::EKS::PodIdentityAssociation");
        for (id, role) in of_type(access, "AWS::IAM::Role") {
            let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
            assert_eq!(trust.as_array().unwrap().len(), 1, "{id}");
            let st = &trust[0];
            assert_eq!(st["Principal"]["Service"], "pods.eks.amazonaws.com", "{id}");
            let cond = &st["Condition"]["StringEquals"];
            assert_eq!(
                cond["aws:RequestTag/eks-cluster-arn"],
                json!({"Fn::Sub": "arn:${AWS::Partition}:eks:${AWS::Region}:${AWS::AccountId}:cluster/${ClusterName}"}),
                "{id}: trusted for the one cluster"
            );
            assert_eq!(
                cond["aws:SourceAccount"],
                json!({"Ref": "AWS::AccountId"}),
                "{id}"
            );
            let bound: Vec<_> = associations
                .iter()
                .filter(|(_, a)| a["Properties"]["RoleArn"]["Fn::GetAtt"][0] == id.as_str())
                .collect();
            assert_eq!(
                bound.len(),
                1,
                "{}: {id} is bound to exactly one service account",
                s.environment
            );
            let a = &bound[0].1["Properties"];
            assert!(
                a["Namespace"].is_string() && a["ServiceAccount"].is_string(),
                "{id}"
            );
            assert_eq!(a["ClusterName"], json!({"Ref": "ClusterName"}), "{id}");
        }
    }
}

#[test]
fn the_bootstrap_stack_holds_what_the_others_need_first() {
    for (s, templates, order) in all() {
        let b = &templates["sre-bootstrap"];
        assert_eq!(order[0].stack, "sre-bootstrap");
        assert!(order[0].parameters.is_empty());
        let (_, bucket) = of_type(b, "AWS::S3::Bucket")[0];
        let p = &bucket["Properties"];
        assert_eq!(p["BucketName"], s.bootstrap.assets_bucket.as_str());
        assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
        for key in [
            "BlockPublicAcls",
            "BlockPublicPolicy",
            "IgnorePublicAcls",
            "RestrictPublicBuckets",
        ] {
            assert_eq!(p["PublicAccessBlockConfiguration"][key], true, "{key}");
        }
        assert_eq!(
            p["LifecycleConfiguration"]["Rules"][0]["NoncurrentVersionExpiration"]["NoncurrentDays"],
            s.bootstrap.noncurrent_version_days
        );
        assert!(p["BucketEncryption"].is_object());
        let (_, policy) = of_type(b, "AWS::S3::BucketPolicy")[0];
        let statements = policy["Properties"]["PolicyDocument"]["Statement"]
            .as_array()
            .unwrap();
        assert!(statements.iter().any(|st| st["Effect"] == "Deny"
            && st["Condition"]["Bool"]["aws:SecureTransport"] == "false"
            && st["Resource"].as_array().unwrap().len() == 2));
        let (_, repo) = of_type(b, "AWS::ECR::Repository")[0];
        let r = &repo["Properties"];
        assert_eq!(
            r["RepositoryName"],
            s.bootstrap.checkout_repository.as_str()
        );
        assert_eq!(r["ImageTagMutability"], "IMMUTABLE");
        assert_eq!(r["ImageScanningConfiguration"]["ScanOnPush"], true);
        let lifecycle: Value = serde_json::from_str(
            r["LifecyclePolicy"]["LifecyclePolicyText"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(
            lifecycle["rules"][0]["selection"]["countNumber"],
            s.bootstrap.images_kept
        );
        // The pipeline stack deploys from the bucket, after the bootstrap stack.
        let pipeline = order.iter().find(|st| st.stack == "sre-pipeline").unwrap();
        assert!(pipeline.needs_assets);
        assert!(pipeline.depends_on.iter().any(|d| d == "sre-bootstrap"));
    }
}

#[test]
fn a_bring_your_own_environment_writes_only_what_it_must() {
    // dev brings its VPC and cluster.
    let dev = Settings::embedded(Environment::Dev).unwrap();
    let (templates, order) = synth(&dev);
    let stacks: BTreeSet<&str> = templates.keys().map(String::as_str).collect();
    assert_eq!(
        stacks,
        BTreeSet::from(["sre-bootstrap", "sre-pipeline", "sre-cluster-access"])
    );
    let NetworkSettings::Existing(net) = &dev.network else {
        unreachable!()
    };
    let pipeline = order.iter().find(|s| s.stack == "sre-pipeline").unwrap();
    assert_eq!(
        serde_json::to_value(&pipeline.parameters["VpcId"]).unwrap(),
        json!({"value": net.vpc_id})
    );
    assert_eq!(
        serde_json::to_value(&pipeline.parameters["PrivateSubnetIds"]).unwrap(),
        json!({"value": net.private_subnet_ids.join(",")})
    );
    assert_eq!(
        serde_json::to_value(&pipeline.parameters["ClusterName"]).unwrap(),
        json!({"value": dev.cluster.name})
    );
    assert_eq!(pipeline.depends_on, ["sre-bootstrap"]);

    // The same settings with the network created and the cluster still brought: a network
    // stack, no cluster stack, and the pipeline reads the network's outputs.
    let prod = Settings::embedded(Environment::Prod).unwrap();
    let mut mixed = dev.clone();
    let NetworkSettings::Create(mut network) = prod.network.clone() else {
        unreachable!()
    };
    network.availability_zones = vec!["eu-west-1a".into(), "eu-west-1b".into()];
    mixed.network = NetworkSettings::Create(network);
    let (templates, order) = synth(&mixed);
    assert!(templates.contains_key("sre-network"));
    assert!(!templates.contains_key("sre-cluster"));
    let pipeline = order.iter().find(|s| s.stack == "sre-pipeline").unwrap();
    assert_eq!(
        serde_json::to_value(&pipeline.parameters["VpcId"]).unwrap(),
        json!({"output": {"stack": "sre-network", "output": "VpcId"}})
    );
    assert_eq!(pipeline.depends_on, ["sre-bootstrap", "sre-network"]);

    // And a created cluster in a brought VPC.
    let mut mixed = dev.clone();
    mixed.cluster.create = prod.cluster.create.clone();
    mixed.pipeline.drain_node_labels =
        std::collections::BTreeMap::from([("sre-platform/pool".into(), "workers".into())]);
    let (templates, order) = synth(&mixed);
    assert!(!templates.contains_key("sre-network"));
    let cluster = order.iter().find(|s| s.stack == "sre-cluster").unwrap();
    assert_eq!(
        serde_json::to_value(&cluster.parameters["VpcCidr"]).unwrap(),
        json!({"value": net.cidr.to_string()})
    );
    let pipeline = order.iter().find(|s| s.stack == "sre-pipeline").unwrap();
    assert_eq!(pipeline.depends_on, ["sre-bootstrap", "sre-cluster"]);
}

#[test]
fn bad_stand_up_settings_name_the_field() {
    let prod = Settings::embedded(Environment::Prod).unwrap();
    let text = include_str!("../settings/prod.toml");
    let err = Settings::from_toml("prod.toml", &text.replace("10.20.0.0/16", "10.20.0.1/16"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("network.create.cidr") && err.contains("no host bits"),
        "{err}"
    );

    let check = |s: Settings, needle: &str| {
        let err = Platform::standard(s.clone())
            .and_then(|p| p.synthesize(&assets()))
            .unwrap_err()
            .to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    };
    let mut s = prod.clone();
    if let NetworkSettings::Create(n) = &mut s.network {
        n.availability_zones = vec!["eu-west-1a".into(), "us-east-1b".into()];
    }
    check(s, "\"eu-west-1a\" is not a zone of us-east-1");
    let mut s = prod.clone();
    if let NetworkSettings::Create(n) = &mut s.network {
        n.availability_zones.truncate(1);
    }
    check(s, "2 to 4 are needed");
    let mut s = prod.clone();
    s.cluster.create.as_mut().unwrap().nodes.min_size = 20;
    check(s, "cluster.create.nodes: min_size (20)");
    let mut s = prod.clone();
    s.pipeline
        .drain_node_labels
        .insert("eks.amazonaws.com/nodegroup".into(), "other".into());
    check(
        s,
        "\"eks.amazonaws.com/nodegroup\" is a label prefix EKS or Kubernetes reserves",
    );
    let mut s = prod.clone();
    s.bootstrap.assets_bucket = "Not_A_Bucket".into();
    check(
        s,
        "bootstrap.assets_bucket (\"Not_A_Bucket\") is not an S3 bucket name",
    );
    let mut s = prod.clone();
    s.cluster.create.as_mut().unwrap().public_access_cidrs =
        vec![serde_json::from_value(json!("0.0.0.0/0")).unwrap()];
    check(s, "opens the API to the whole internet");
}
