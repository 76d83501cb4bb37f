//! The deployment files in `deploy/` stay deployable: every YAML document parses; the
//! Kubernetes manifests name themselves, run `fenghuo:latest` as a non-root user with a volume
//! per replica, mount only ConfigMaps and Secrets defined beside them or that the README tells
//! the operator to create, and embed configs that pass the node's own checks and match their
//! mounts; the systemd units keep their hardening.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fenghuo_node::config::NodeConfig;
use yaml_rust2::{Yaml, YamlLoader};

/// The image every container runs (built by `deploy/docker`).
const IMAGE: &str = "fenghuo:latest";

/// Kinds that run pods.
const WORKLOADS: &[&str] = &["StatefulSet", "Deployment", "DaemonSet", "Job", "CronJob"];

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy")
}

fn kubernetes_dir() -> PathBuf {
    deploy_dir().join("kubernetes")
}

/// Files under `dir` (recursively) with one of the extensions `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| exts.iter().any(|x| e == *x))
            {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every non-empty document of a YAML file; a syntax error fails the test, naming the file.
fn documents(path: &Path) -> Vec<Yaml> {
    let docs = YamlLoader::load_from_str(&read(path))
        .unwrap_or_else(|e| panic!("{}: not valid YAML: {e}", path.display()));
    // A stray `---` makes an empty document, which kubectl skips too.
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// The node at `path` below `y` (`BadValue` when absent).
fn at<'a>(y: &'a Yaml, path: &[&str]) -> &'a Yaml {
    path.iter().fold(y, |node, key| &node[*key])
}

fn str_at<'a>(y: &'a Yaml, path: &[&str]) -> Option<&'a str> {
    at(y, path).as_str()
}

/// A sequence's items; nothing when absent or not a sequence.
fn items(y: &Yaml) -> &[Yaml] {
    y.as_vec().map(Vec::as_slice).unwrap_or(&[])
}

/// One Kubernetes object from `deploy/kubernetes`.
struct Object {
    /// Its file, for messages.
    file: String,
    kind: String,
    name: String,
    doc: Yaml,
}

impl Object {
    fn what(&self) -> String {
        format!("{}: {} {}", self.file, self.kind, self.name)
    }

    /// The pod template's spec (`CronJob` nests one level deeper).
    fn pod_spec(&self) -> &Yaml {
        if self.kind == "CronJob" {
            at(
                &self.doc,
                &["spec", "jobTemplate", "spec", "template", "spec"],
            )
        } else {
            at(&self.doc, &["spec", "template", "spec"])
        }
    }

    fn pod_labels(&self) -> &Yaml {
        if self.kind == "CronJob" {
            at(
                &self.doc,
                &[
                    "spec",
                    "jobTemplate",
                    "spec",
                    "template",
                    "metadata",
                    "labels",
                ],
            )
        } else {
            at(&self.doc, &["spec", "template", "metadata", "labels"])
        }
    }

    fn containers(&self) -> impl Iterator<Item = &Yaml> {
        let spec = self.pod_spec();
        items(&spec["initContainers"])
            .iter()
            .chain(items(&spec["containers"]))
    }

    /// The pod volume named `name`.
    fn volume(&self, name: &str) -> Option<&Yaml> {
        items(&self.pod_spec()["volumes"])
            .iter()
            .find(|v| v["name"].as_str() == Some(name))
    }

    /// Names of the per-replica volume claims (StatefulSet).
    fn claim_names(&self) -> Vec<&str> {
        items(at(&self.doc, &["spec", "volumeClaimTemplates"]))
            .iter()
            .filter_map(|c| str_at(c, &["metadata", "name"]))
            .collect()
    }
}

/// The manifests that `kustomization.yaml` lists: every YAML file in `deploy/kubernetes` but
/// the kustomization itself.
fn manifest_files() -> Vec<PathBuf> {
    files(&kubernetes_dir(), &["yaml", "yml"])
        .into_iter()
        .filter(|p| !is_kustomization(p))
        .collect()
}

fn is_kustomization(p: &Path) -> bool {
    p.file_name()
        .is_some_and(|n| n == "kustomization.yaml" || n == "kustomization.yml")
}

/// Every object in `deploy/kubernetes`, each checked to name its apiVersion, kind and name and
/// no namespace (the manifests are applied with `-n`).
fn objects() -> Vec<Object> {
    let mut out = Vec::new();
    for path in manifest_files() {
        let file = path
            .strip_prefix(deploy_dir())
            .unwrap()
            .display()
            .to_string();
        let docs = documents(&path);
        assert!(!docs.is_empty(), "{file}: no Kubernetes object");
        for (i, doc) in docs.into_iter().enumerate() {
            let field = |path: &[&str]| {
                str_at(&doc, path)
                    .filter(|s| !s.trim().is_empty())
                    .unwrap_or_else(|| {
                        panic!("{file}, document {}: no `{}`", i + 1, path.join("."))
                    })
                    .to_owned()
            };
            field(&["apiVersion"]);
            let kind = field(&["kind"]);
            let name = field(&["metadata", "name"]);
            assert!(
                at(&doc, &["metadata", "namespace"]).is_badvalue(),
                "{file}: {kind} {name} names a namespace; the manifests are namespace-agnostic"
            );
            out.push(Object {
                file: file.clone(),
                kind,
                name,
                doc,
            });
        }
    }
    out
}

fn find<'a>(objects: &'a [Object], kind: &str, name: &str) -> Option<&'a Object> {
    objects.iter().find(|o| o.kind == kind && o.name == name)
}

fn workloads(objects: &[Object]) -> impl Iterator<Item = &Object> {
    objects
        .iter()
        .filter(|o| WORKLOADS.contains(&o.kind.as_str()))
}

fn readme() -> String {
    read(&kubernetes_dir().join("README.md"))
}

#[test]
fn every_yaml_file_in_deploy_parses() {
    let all = files(&deploy_dir(), &["yaml", "yml"]);
    assert!(
        all.iter()
            .filter(|p| p.starts_with(kubernetes_dir()))
            .count()
            >= 2,
        "expected the Kubernetes manifests in deploy/kubernetes, found {all:?}"
    );
    for path in &all {
        let docs = documents(path);
        assert!(!docs.is_empty(), "{}: empty", path.display());
        // Compose files and anything else: a mapping at the top of each document.
        for doc in &docs {
            assert!(
                doc.is_hash(),
                "{}: a document is not a mapping",
                path.display()
            );
        }
    }
}

#[test]
fn kubernetes_objects_are_named_and_listed_by_the_kustomization() {
    let objects = objects();
    assert!(
        workloads(&objects).count() >= 2,
        "expected the gateway and a county node"
    );
    let kustomization = documents(&kubernetes_dir().join("kustomization.yaml"));
    let [k] = kustomization.as_slice() else {
        panic!("kustomization.yaml: expected one document");
    };
    assert_eq!(str_at(k, &["kind"]), Some("Kustomization"));
    assert!(
        k["namespace"].is_badvalue(),
        "kustomization.yaml: no namespace: apply with -n"
    );
    let mut listed: Vec<&str> = items(&k["resources"])
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    listed.sort();
    let present: Vec<String> = manifest_files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        listed, present,
        "kustomization.yaml must list exactly the manifests beside it"
    );
    let mut seen = BTreeMap::new();
    for o in &objects {
        if let Some(other) = seen.insert((o.kind.clone(), o.name.clone()), o.file.clone()) {
            panic!("{} is also defined in {other}", o.what());
        }
    }
}

#[test]
fn workloads_run_the_image_as_a_non_root_user_with_a_volume_per_replica() {
    let objects = objects();
    for w in workloads(&objects) {
        let what = w.what();
        if w.kind == "StatefulSet" {
            assert!(
                !w.claim_names().is_empty(),
                "{what}: no volumeClaimTemplates (each replica needs its own store)"
            );
            let service = str_at(&w.doc, &["spec", "serviceName"])
                .unwrap_or_else(|| panic!("{what}: no serviceName"));
            let headless = find(&objects, "Service", service)
                .unwrap_or_else(|| panic!("{what}: its Service {service} is not defined"));
            assert_eq!(
                str_at(&headless.doc, &["spec", "clusterIP"]),
                Some("None"),
                "{what}: its Service {service} must be headless"
            );
        }
        let pod = at(w.pod_spec(), &["securityContext"]);
        assert_eq!(
            pod["runAsNonRoot"].as_bool(),
            Some(true),
            "{what}: runAsNonRoot"
        );
        assert_eq!(pod["runAsUser"].as_i64(), Some(10001), "{what}: runAsUser");
        assert_eq!(
            str_at(pod, &["seccompProfile", "type"]),
            Some("RuntimeDefault"),
            "{what}: seccompProfile"
        );
        let mut containers = 0;
        for c in w.containers() {
            containers += 1;
            let name = c["name"].as_str().unwrap_or("?");
            let what = format!("{what}, container {name}");
            assert_eq!(c["image"].as_str(), Some(IMAGE), "{what}: image");
            let sc = &c["securityContext"];
            assert_eq!(
                sc["readOnlyRootFilesystem"].as_bool(),
                Some(true),
                "{what}: readOnlyRootFilesystem"
            );
            assert_eq!(
                sc["allowPrivilegeEscalation"].as_bool(),
                Some(false),
                "{what}: allowPrivilegeEscalation"
            );
            assert!(
                items(at(sc, &["capabilities", "drop"]))
                    .iter()
                    .any(|d| d.as_str() == Some("ALL")),
                "{what}: must drop ALL capabilities"
            );
            assert!(
                items(at(sc, &["capabilities", "add"])).is_empty(),
                "{what}: adds capabilities; our ports need none"
            );
            assert!(
                sc["privileged"].as_bool() != Some(true) && sc["runAsUser"].as_i64() != Some(0),
                "{what}: must not run privileged or as root"
            );
            for probe in ["readinessProbe", "livenessProbe"] {
                assert!(c[probe].is_hash(), "{what}: no {probe}");
            }
            for m in items(&c["volumeMounts"]) {
                let v = m["name"].as_str().unwrap();
                assert!(
                    w.volume(v).is_some() || w.claim_names().contains(&v),
                    "{what}: mounts {v}, which is neither a volume nor a claim"
                );
            }
        }
        assert!(containers > 0, "{what}: no containers");
    }
}

#[test]
fn mounted_config_maps_and_secrets_are_defined_or_documented() {
    let objects = objects();
    let readme = readme();
    for w in workloads(&objects) {
        for v in items(&w.pod_spec()["volumes"]) {
            if let Some(name) = str_at(v, &["configMap", "name"]) {
                assert!(
                    find(&objects, "ConfigMap", name).is_some(),
                    "{}: mounts ConfigMap {name}, not defined in deploy/kubernetes",
                    w.what()
                );
            }
            if let Some(name) = str_at(v, &["secret", "secretName"]) {
                assert!(
                    find(&objects, "Secret", name).is_some() || readme.contains(name),
                    "{}: mounts Secret {name}, neither defined in deploy/kubernetes nor \
                     documented in its README.md as created by the operator",
                    w.what()
                );
            }
        }
    }
}

/// The mount of `container` at exactly `dir`, and the volume behind it (`None` for a claim).
fn mount_at<'a>(
    w: &'a Object,
    container: &'a Yaml,
    dir: &Path,
) -> Option<(&'a str, Option<&'a Yaml>)> {
    items(&container["volumeMounts"])
        .iter()
        .find(|m| m["mountPath"].as_str().map(Path::new) == Some(dir))
        .and_then(|m| m["name"].as_str())
        .map(|name| (name, w.volume(name)))
}

#[test]
fn embedded_configs_pass_the_node_checks_and_match_the_mounts() {
    let objects = objects();
    let readme = readme();
    let mut checked = 0;
    for w in workloads(&objects) {
        for c in w.containers() {
            let what = format!(
                "{}, container {}",
                w.what(),
                c["name"].as_str().unwrap_or("?")
            );
            let binary = items(&c["command"])
                .first()
                .and_then(Yaml::as_str)
                .unwrap_or_else(|| panic!("{what}: no command"));
            let args: Vec<&str> = items(&c["args"]).iter().filter_map(Yaml::as_str).collect();
            let config = args
                .windows(2)
                .find(|a| a[0] == "--config")
                .map(|a| Path::new(a[1]))
                .unwrap_or_else(|| panic!("{what}: no --config"));
            assert_eq!(args.first(), Some(&"run"), "{what}: `{binary} run …`");

            // The config file comes from a ConfigMap mounted at its folder.
            let dir = config.parent().unwrap();
            let file = config.file_name().unwrap().to_str().unwrap();
            let (_, volume) = mount_at(w, c, dir)
                .unwrap_or_else(|| panic!("{what}: nothing is mounted at {}", dir.display()));
            let map = volume
                .and_then(|v| str_at(v, &["configMap", "name"]))
                .unwrap_or_else(|| panic!("{what}: {} is not a ConfigMap", dir.display()));
            let map = find(&objects, "ConfigMap", map).unwrap();
            let text = str_at(&map.doc, &["data", file])
                .unwrap_or_else(|| panic!("{}: no key {file}", map.what()));
            let cfg = NodeConfig::parse(text, &format!("{} {file}", map.what()), dir)
                .unwrap_or_else(|e| panic!("{e}"));

            // The binary matches the config's kind, and the certificate its identity.
            let stem = if binary.ends_with("/fenghuo-gateway") {
                let p = cfg.province.as_deref();
                assert!(p.is_some(), "{what}: the gateway needs `province`");
                format!("province-{}", p.unwrap())
            } else if binary.ends_with("/fenghuo-node") {
                let c = cfg.county.as_deref();
                assert!(c.is_some(), "{what}: a county node needs `county`");
                format!("county-{}", c.unwrap())
            } else {
                panic!("{what}: runs {binary}, not /fenghuo-node or /fenghuo-gateway");
            };
            assert_eq!(
                cfg.tls.cert.file_name().unwrap().to_str(),
                Some(format!("{stem}.crt").as_str()),
                "{what}: tls.cert is not this node's certificate"
            );

            // Every certificate and key is in a Secret mounted at its folder.
            let mut pki = vec![&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, &cfg.tls.crl];
            if let Some(d) = &cfg.dashboard {
                pki.extend([&d.cert, &d.key]);
            }
            for path in pki {
                let path = cfg.resolve(path);
                let dir = path.parent().unwrap();
                let file = path.file_name().unwrap().to_str().unwrap();
                let secret = mount_at(w, c, dir)
                    .and_then(|(_, v)| v)
                    .and_then(|v| str_at(v, &["secret", "secretName"]))
                    .unwrap_or_else(|| {
                        panic!("{what}: {} is not in a mounted Secret", path.display())
                    });
                match find(&objects, "Secret", secret) {
                    Some(s) => assert!(
                        !at(&s.doc, &["data", file]).is_badvalue()
                            || !at(&s.doc, &["stringData", file]).is_badvalue(),
                        "{}: no key {file}",
                        s.what()
                    ),
                    // Created by the operator: the README's command must include the file.
                    None => assert!(
                        readme.contains(file),
                        "{what}: README.md does not say to put {file} in Secret {secret}"
                    ),
                }
            }

            // The store is on the replica's own claim.
            let data = cfg.resolve(&cfg.data_dir);
            assert!(
                items(&c["volumeMounts"]).iter().any(|m| {
                    let name = m["name"].as_str().unwrap_or_default();
                    let path = Path::new(m["mountPath"].as_str().unwrap_or("-"));
                    w.claim_names().contains(&name) && data.starts_with(path)
                }),
                "{what}: data_dir {} is not on a volume claim",
                data.display()
            );

            // The ports it listens on are the container's.
            let ports: Vec<i64> = items(&c["ports"])
                .iter()
                .filter_map(|p| p["containerPort"].as_i64())
                .collect();
            let mut listens = vec![cfg.listen];
            listens.extend(cfg.dashboard.as_ref().map(|d| d.listen));
            for l in listens {
                assert!(
                    ports.contains(&i64::from(l.port())),
                    "{what}: listens on {l}, not a container port ({ports:?})"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 2, "expected the gateway's and a county's config");
}

#[test]
fn services_select_a_workload_and_its_ports() {
    let objects = objects();
    for s in objects.iter().filter(|o| o.kind == "Service") {
        let selector = at(&s.doc, &["spec", "selector"])
            .as_hash()
            .unwrap_or_else(|| panic!("{}: no selector", s.what()));
        let target = workloads(&objects)
            .find(|w| {
                selector.iter().all(|(k, v)| {
                    let k = k.as_str().unwrap();
                    // The StatefulSet controller labels each pod with its name.
                    if k == "statefulset.kubernetes.io/pod-name" {
                        let replicas = at(&w.doc, &["spec", "replicas"]).as_i64().unwrap_or(1);
                        let name = at(&w.doc, &["metadata", "name"]).as_str().unwrap_or("");
                        return (0..replicas).any(|n| v.as_str() == Some(&format!("{name}-{n}")));
                    }
                    w.pod_labels()[k] == *v
                })
            })
            .unwrap_or_else(|| panic!("{}: selects no workload's pods", s.what()));
        let names: Vec<&str> = target
            .containers()
            .flat_map(|c| items(&c["ports"]))
            .filter_map(|p| p["name"].as_str())
            .collect();
        for p in items(at(&s.doc, &["spec", "ports"])) {
            if let Some(port) = p["targetPort"].as_str() {
                assert!(
                    names.contains(&port),
                    "{}: targetPort {port} is not a port of {}",
                    s.what(),
                    target.what()
                );
            }
        }
    }
}

/// The `key=value` lines of a unit file, each key with its values in order. Sections are left
/// out: none of the keys checked here appears in two sections.
fn unit_keys(text: &str) -> BTreeMap<&str, Vec<&str>> {
    let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with(['#', ';', '[']) {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .unwrap_or_else(|| panic!("not a key=value line: {line}"));
        keys.entry(key.trim()).or_default().push(value.trim());
    }
    keys
}

#[test]
fn systemd_units_keep_their_hardening() {
    let hardening: &[(&str, &str)] = &[
        ("User", "fenghuo"),
        ("Group", "fenghuo"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("NoNewPrivileges", "yes"),
        ("PrivateTmp", "yes"),
        ("PrivateDevices", "yes"),
        ("StateDirectory", "fenghuo"),
        ("ReadWritePaths", "/var/lib/fenghuo"),
        // Empty: no capability at all (our ports are above 1024).
        ("CapabilityBoundingSet", ""),
        ("RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"),
        ("SystemCallFilter", "@system-service"),
        ("LockPersonality", "yes"),
        ("MemoryDenyWriteExecute", "yes"),
        ("RestrictNamespaces", "yes"),
        ("ProtectKernelTunables", "yes"),
        ("ProtectKernelModules", "yes"),
        ("ProtectKernelLogs", "yes"),
        ("ProtectControlGroups", "yes"),
        ("ProtectClock", "yes"),
        ("ProtectHostname", "yes"),
        ("RestrictRealtime", "yes"),
        ("RestrictSUIDSGID", "yes"),
        ("UMask", "0077"),
        ("Restart", "on-failure"),
        ("KillSignal", "SIGTERM"),
        ("LimitNOFILE", "65536"),
    ];
    let dir = deploy_dir().join("systemd");
    let units = files(&dir, &["service"]);
    let names: Vec<_> = units.iter().map(|p| p.file_name().unwrap()).collect();
    assert_eq!(names, ["fenghuo-gateway.service", "fenghuo-node.service"]);
    for unit in &units {
        let name = unit.file_name().unwrap().to_str().unwrap();
        let text = read(unit);
        let keys = unit_keys(&text);
        for (key, want) in hardening {
            // A repeated key would change the setting (or, for some keys, add to it).
            let values = keys.get(key).map(Vec::as_slice).unwrap_or_default();
            assert_eq!(values, [*want], "{name}: {key}");
        }
        assert!(
            !keys.contains_key("AmbientCapabilities"),
            "{name}: no capability is needed"
        );
        // `/usr/local/bin/fenghuo-node run --config /etc/fenghuo/node.toml --log-format json`,
        // with a config of the shape shipped in deploy/config.
        let binary = name.trim_end_matches(".service");
        let config = if binary == "fenghuo-gateway" {
            "gateway.toml"
        } else {
            "node.toml"
        };
        assert_eq!(
            keys.get("ExecStart").map(Vec::as_slice).unwrap_or_default(),
            [format!(
                "/usr/local/bin/{binary} run --config /etc/fenghuo/{config} --log-format json"
            )
            .as_str()],
            "{name}: ExecStart"
        );
        assert!(deploy_dir().join("config").join(config).is_file());
    }
}
