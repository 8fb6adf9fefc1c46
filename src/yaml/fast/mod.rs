//! The fast paths: code that repeats what serde-saphyr does, kept only where it makes a full
//! render at least 10% faster, and held to serde-saphyr's result by the differential property
//! tests below. Measured with `bench/ab.py --runs 25` (200x3 fleet, interleaved, one binary
//! with each path routed to serde-saphyr in turn; a loaded 2-core VM, so wall times are
//! inflated and CPU is the steadier figure), p25/median of a full render, ms:
//!
//! | without          | wall p25 | wall med | cpu p25 | cpu med |
//! |------------------|---------:|---------:|--------:|--------:|
//! | (all fast paths) |    621.8 |    656.0 |   305.6 |   322.3 |
//! | `strict`         |    738.9 |    800.5 |   366.2 |   390.7 |
//! | `emit`           |    709.3 |    827.2 |   356.7 |   408.7 |
//! | `block` (*)      |   1460.6 |   1750.2 |   734.8 |   881.6 |
//!
//! (*) `--runs 20`, against 574.5 / 677.3 / 273.4 / 328.3 with all fast paths.
//!
//! The event reader (parser events straight into values) was deleted: behind the block
//! reader it never ran on the fleet.

pub(super) mod block;
pub(super) mod emit;
pub(super) mod strict;

#[cfg(test)]
mod generate;

#[cfg(test)]
mod tests {
    use std::fmt;

    use proptest::prelude::*;
    use serde::Serialize;
    use serde::de::DeserializeOwned;
    use serde_json::Value;

    use super::generate::{edit_all, edited_stream, value};
    use super::{block, emit, strict};
    use crate::yaml::{
        MAX_DEPTH, YamlError, ambiguous_plain_scalars, canonical_via_serde, documents_via_serde,
        from_str, from_str_via_serde, template_output, top_level_rank,
    };

    /// Template output as the built-in templates render it (`tojson` values, whitespace
    /// control's leading blank line, no final newline), and a few values a fleet may hold.
    const RENDERED: &[&str] = &[
        "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"app-config\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/managed-by\": \"kubectl-hadr\", \"app.kubernetes.io/name\": \"app\", \"hadr.dev/environment\": \"env-00000\", \"hadr.dev/region\": \"eastus2\"}\ndata: {\"FEATURE_X\": \"on\", \"LOG_LEVEL\": \"info\", \"SHARD\": \"0\"}",
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: "app"
  namespace: "team-00000"
  labels: {"app.kubernetes.io/managed-by": "kubectl-hadr", "app.kubernetes.io/name": "app", "hadr.dev/environment": "env-00000", "hadr.dev/region": "eastus2"}
spec:
  replicas: 4
  selector:
    matchLabels: {"app.kubernetes.io/name": "app"}
  template:
    metadata:
      labels: {"app.kubernetes.io/managed-by": "kubectl-hadr", "app.kubernetes.io/name": "app", "hadr.dev/environment": "env-00000", "hadr.dev/region": "eastus2"}
    spec:
      topologySpreadConstraints:
        - maxSkew: 1
          topologyKey: "topology.kubernetes.io/zone"
          whenUnsatisfiable: "DoNotSchedule"
          labelSelector:
            matchLabels: {"app.kubernetes.io/name": "app"}
        - maxSkew: 1
          topologyKey: "kubernetes.io/hostname"
          whenUnsatisfiable: "ScheduleAnyway"
          labelSelector:
            matchLabels: {"app.kubernetes.io/name": "app"}
      affinity:
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            - topologyKey: kubernetes.io/hostname
              labelSelector:
                matchLabels: {"app.kubernetes.io/name": "app"}
      containers:
        - name: "app"
          image: "registry.example.com/app:1.0.0"
          ports:
            - name: http
              containerPort: 8080
          envFrom:
            - configMapRef:
                name: "app-config"
            - configMapRef:
                name: "app-region"
          readinessProbe:
            httpGet:
              path: "/healthz"
              port: http
            initialDelaySeconds: 2
            periodSeconds: 5
          resources:
            requests:
              cpu: "250m"
              memory: "256Mi"
            limits:
              memory: "512Mi""#,
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: "web"
  namespace: "shop"
  labels: {"app.kubernetes.io/name": "web", "team": "caf\u00e9 \u003cfront\u003e"}
spec:
  replicas: 2
  selector:
    matchLabels: {"app.kubernetes.io/name": "web"}
  template:
    metadata:
      labels: {"app.kubernetes.io/name": "web"}
    spec:
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm:
                topologyKey: kubernetes.io/hostname
                labelSelector:
                  matchLabels: {"app.kubernetes.io/name": "web"}
      containers:
        - name: "web"
          image: "ghcr.io/acme/web@sha256:0123abcd"
          ports:
            - name: http
              containerPort: 80
          envFrom:
            - configMapRef:
                name: "web-config"
            - configMapRef:
                name: "web-region"
          readinessProbe:
            httpGet:
              path: "/ready?full=1"
              port: http
            initialDelaySeconds: 0
            periodSeconds: 10
          resources:
            requests:"#,
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"team-00000\"\n  labels: {\"app.kubernetes.io/managed-by\": \"kubectl-hadr\", \"hadr.dev/region\": \"eastus2\"}",
        "\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: \"app\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  minAvailable: 2\n  selector:\n    matchLabels: {\"app.kubernetes.io/name\": \"app\"}",
        "\napiVersion: policy/v1\nkind: PodDisruptionBudget\nmetadata:\n  name: \"app\"\n  namespace: \"team-1\"\n  labels: {}\nspec:\n  maxUnavailable: \"25%\"\n  selector:\n    matchLabels: {\"app.kubernetes.io/name\": \"app\"}",
        "\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"app-region\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\", \"hadr.dev/region\": \"eastus2\"}\ndata:\n  REGION: \"eastus2\"\n  \"ROLE\": \"primary\"",
        r##"
apiVersion: v1
kind: ConfigMap
metadata:
  name: "app-region"
  namespace: "team-7"
  labels: {"app.kubernetes.io/name": "app"}
data:
  REGION: "westus3"
  "A\u003cB": "x \u0026 y"
  "MOTD": "line one\nline two\ttabbed \"quoted\" \\ back\/slash \ud83d\ude00 \u00e9t\u00e9"
  "EMPTY": ""
  "with space": "#not a comment: really"
  "yes": "no""##,
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: \"app\"\n  namespace: \"team-00000\"\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  selector: {\"app.kubernetes.io/name\": \"app\"}\n  ports:\n    - name: http\n      port: 80\n      targetPort: http",
        "\napiVersion: velero.io/v1\nkind: Schedule\nmetadata:\n  name: \"app-env-00000\"\n  namespace: velero\n  labels: {\"app.kubernetes.io/name\": \"app\"}\nspec:\n  schedule: \"0 */6 * * *\"\n  template:\n    includedNamespaces:\n      - \"team-00000\"\n    storageLocation: \"default\"\n    ttl: \"720h\"\n",
        "# generated\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\ndata: {\"n\": [1, -2, true, false, null, {\"deep\": [[], {}]}], \"s\": \"\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n  annotations:\n    example.com/note: plain text, with commas (and parens)\n---\n",
    ];

    /// Environment files as people and the benchmark write them: block mappings with one-line
    /// flow collections of plain words, quantities, paths and JSON strings.
    const ENVIRONMENTS: &[&str] = &[
        "apiVersion: hadr.dev/v1alpha1\nkind: Environment\nmetadata: {name: env-00000}\nspec:\n  namespace: team-00000\n  app:\n    name: app\n    image: registry.example.com/app:1.0.0\n    port: 8080\n    replicas: 3\n    resources: {cpu: 250m, memory: 256Mi, memoryLimit: 512Mi}\n    readinessProbe: {path: /healthz, initialDelaySeconds: 2, periodSeconds: 5}\n  ha:\n    spread: [zone, hostname]\n    antiAffinity: required\n    disruptionBudget: {minAvailable: 2}\n    survive: region\n  dr:\n    rpo: 24h\n    rto: 30m\n    backup: {schedule: \"0 */6 * * *\", ttl: 720h, storageLocation: default}\n  config: {LOG_LEVEL: \"info\", FEATURE_X: \"on\", SHARD: \"0\"}\n  regions:\n    - {name: eastus2, context: c-0-eastus2, replicas: 4, config: {ROLE: primary}}\n    - {name: centralus, context: c-0-centralus, replicas: 3, config: {ROLE: secondary}}\n    - {name: westus3, context: c-0-westus3, replicas: 2, config: {ROLE: secondary}}\n",
        include_str!("../../../environments/_defaults.yaml"),
        include_str!("../../../environments/prod.yaml"),
        include_str!("../../../environments/staging.yaml"),
        "apiVersion: hadr.dev/v1alpha1\nkind: Environment\nspec:\n  ha: {disruptionBudget: {maxUnavailable: \"25%\"}, spread: [ zone ], survive: zone}\n  config: { A: on, B: yes ,C: \"x\" }\n  values: {list: [[], {}, [1, -2, true, null, ~]], n: {m: [off]}, \"q\":\"r\"}\n  regions: [{name: a, zones: [a-1, a-2]}, {name: b}]\n",
    ];

    /// `from_str`'s quick read on one text: where it gives a value, serde-saphyr gives the same;
    /// whether it gave one.
    fn quick_read_agrees<T>(src: &str) -> bool
    where
        T: DeserializeOwned + Serialize + fmt::Debug,
    {
        let Some(quick) = strict::from_str_quick::<T>(src) else {
            return false;
        };
        let slow = from_str_via_serde::<T>(src, &|_| None)
            .unwrap_or_else(|e| panic!("the quick read took what serde refuses: {src:?}: {e}"));
        let json = |v: &T| serde_json::to_value(v).unwrap();
        assert_eq!(json(&quick), json(&slow), "{src:?}");
        assert_eq!(format!("{quick:?}"), format!("{slow:?}"), "{src:?}");
        true
    }

    #[test]
    fn environment_files_read_quickly_as_serde_reads_them_or_not_at_all() {
        use crate::environment::EnvironmentFile;
        for src in ENVIRONMENTS {
            assert!(quick_read_agrees::<EnvironmentFile>(src), "{src}");
        }
        let bench = ENVIRONMENTS[0];
        // Shapes the quick read takes, each checked against serde.
        for (from, to) in [
            ("{minAvailable: 2}", "{minAvailable: \"50%\"}"),
            ("{minAvailable: 2}", "{maxUnavailable: \"2\"}"),
            ("apiVersion", "---\napiVersion"),
            ("kind: Environment", "kind: \"Environment\""),
            ("replicas: 3\n", "replicas:\n"),
            ("  dr:\n", "  values: {a: [1, {b: on}], c: null}\n  dr:\n"),
        ] {
            let src = bench.replacen(from, to, 1);
            assert_ne!(src, bench);
            assert!(quick_read_agrees::<EnvironmentFile>(&src), "{to}");
        }
        // Shapes it must leave to serde: what the block reader declines (a float, a duplicate
        // key, a comment after a flow collection, two documents) and what `Strict` refuses (a
        // number for a string, a sequence for a struct, a map for an enum, an unknown field).
        for (from, to) in [
            ("port: 8080", "port: 80.5"),
            ("namespace: team-00000", "namespace: 3"),
            ("SHARD: \"0\"", "SHARD: 0"),
            ("replicas: 3\n", "replicas: 3\n    replicas: 4\n"),
            ("{ROLE: primary}", "{ROLE: primary, ROLE: secondary}"),
            (
                "{cpu: 250m, memory: 256Mi, memoryLimit: 512Mi}",
                "[250m, 256Mi, 512Mi]",
            ),
            ("kind: Environment", "kind: {Environment: null}"),
            ("survive: region", "survive: [region]"),
            ("survive: region", "survive: planet"),
            ("rpo: 24h", "rpo: 24h\n    extra: x"),
            (
                "spread: [zone, hostname]",
                "spread: [zone, hostname] # both",
            ),
            ("{minAvailable: 2}", "{minAvailable: -1}"),
            ("{minAvailable: 2}", "{minAvailable: 25%}"),
            ("{minAvailable: 2}", "{minAvailable: true}"),
            (
                "metadata: {name: env-00000}",
                "metadata: {name: env-00000}\n---\nkind: x",
            ),
            ("metadata: {name: env-00000}", "metadata:"),
        ] {
            let src = bench.replacen(from, to, 1);
            assert_ne!(src, bench);
            assert!(
                strict::from_str_quick::<EnvironmentFile>(&src).is_none(),
                "{src}"
            );
            // And the result is serde's, errors with their positions included.
            let err =
                |r: Result<EnvironmentFile, YamlError>| r.map(|_| ()).map_err(|e| e.to_string());
            assert_eq!(
                err(from_str(&src)),
                err(from_str_via_serde(&src, &|_| None)),
                "{src}"
            );
        }
        // Texts the quick read may or may not take: around documents markers and empty files.
        for src in [
            "",
            "# nothing\n",
            "---\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: Environment\n---\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: Environment\n---\n# c\n",
            "# c\n---\napiVersion: hadr.dev/v1alpha1\nkind: Environment\n",
            "---\n---\napiVersion: hadr.dev/v1alpha1\nkind: Environment\n",
            "apiVersion: hadr.dev/v1alpha1\nkind: EnvironmentDefaults\nspec: {}\nmetadata: {}\n",
        ] {
            quick_read_agrees::<EnvironmentFile>(src);
        }
    }

    #[test]
    fn render_indexes_read_quickly_as_serde_reads_them() {
        use crate::render::manifest::{Index, IndexEntry, ObjectId};
        let entry = |name: &str, namespace: Option<&str>| IndexEntry {
            file: format!("{name}.yaml"),
            id: ObjectId {
                api_version: "v1".into(),
                kind: "ConfigMap".into(),
                namespace: namespace.map(str::to_string),
                name: name.into(),
            },
            // A digest that starts with a digit and has only hex letters is left to serde.
            sha256: if name == "a" { "0123abcd" } else { "e3b0c442" }.into(),
        };
        let index = Index {
            api_version: "hadr.dev/v1alpha1".into(),
            kind: "Index".into(),
            environment: "prod".into(),
            region: "eastus2".into(),
            digest: "sha256:0123abcd".into(),
            objects: vec![
                entry("a", Some("ns")),
                entry("0777", None),
                entry("on", Some("1")),
            ],
        };
        let src = index.to_bytes();
        assert!(!quick_read_agrees::<Index>(&src), "{src}");
        assert_eq!(from_str::<Index>(&src).unwrap(), index);
        let mut index = index;
        index.objects.remove(0);
        let src = index.to_bytes();
        assert!(quick_read_agrees::<Index>(&src), "{src}");
        assert_eq!(from_str::<Index>(&src).unwrap(), index);
    }

    /// Shapes at the edge of what the block reader takes: each is read as serde-saphyr reads
    /// it, or declined.
    const EDGES: &[&str] = &[
        "a:\n- x\n- y\nb: 1\n",
        "a:\n  - x\n  - y\nb:\n- z\n",
        "items:\n- name: a\n  ports:\n  - 80\n  - 81\n- name: b\n  nested:\n    - k: v\n      l:\n      - m: n\n",
        "- a: 1\n",
        "a:\n-\n  b: 1\n-\n- - x\n",
        "a:\n-\n  - x\n-\n",
        "a:\n  b:\n",
        "a: 1\nb:\n---\nc:\n",
        "a: 1\n---\n\n# only a comment\n---\n---   \nb: 2\n--- \n",
        "# c\na: 1 # trailing\n",
        "a: # c\n  b: 1\n",
        "  # indented comment\na:\n    # deeper comment\n  b: 1\n# shallow comment\n  c: 2\n",
        "a: {}\nb: []\nc: [{}]\nd: [[]]\ne: {\"\": 0}\n",
        "a: \"\\u003c\\u0026\\u003e \\/ \\b\\f\\n\\r\\t \\ud83d\\ude00 \\u0000\"\n",
        "a: \"\\ud800\"\n",
        "a: \"\\x41\"\n",
        "a: \"\\e\"\n",
        "a: yes\nb: on\nc: y\nd: No\ne: OFF\nf: Y\n",
        "a: 0777\n",
        "a: 1_000\n",
        "a: 2026-01-01\n",
        "a: 12:30\n",
        "a: 1.5\n",
        "a: .inf\n",
        "a: -0\n",
        "a: -12\nb: 0\nc: 999999999999999999\ne: -999999999999999999\n",
        "d: 1000000000000000000\n",
        "d: -1000000000000000000\n",
        "a: [999999999999999999, -999999999999999999]\n",
        "b: [1000000000000000000]\n",
        "b: {\"c\": -1000000000000000000}\n",
        "\"\u{e9}\": yes\n\"\\u00e9x\": on\n",
        "a:\n- \"\u{e9}t\u{e9}\": 1\n  \"\u{e9}\": n\n",
        "\"a: b\": 1\n\"c # d\": [2]\n",
        "\"a\"  : 1\n",
        "a: x@y%z=w+v~u\n",
        "a: b\n    # c\nd: 1\n",
        "a:\n  b: 1\n---\n  c: 2\n",
        "-\n    a: 1\n  b: 2\n",
        "a:\n-\n    b: 1\n  c: 2\n",
        "a:\n- b:\n  - c\n- d\n",
        "a: [1.0]\n",
        "a: [1e3]\n",
        "a: [-0]\n",
        "yes: 1\non: 2\ny: 3\n",
        "true: 1\n",
        "Null: 1\n",
        "inf: 1\n",
        "a: True\n",
        "a: NaN\n",
        "a: ~\nb: null\nc:\n",
        "a: x   \nb: \"y\"   \nc: {}  \nd:   \n  - e  \n  -   \n",
        "a: x\n  continued\n",
        "a: x\n  # comment\n  continued\n",
        "a: \"x\"\n  b: 1\n",
        "a: 1\n  b: 2\n",
        "a:\n    b: 1\n  c: 2\n",
        "a:\n  b: 1\n c: 2\n",
        "- a\n- b\n",
        "just text\n",
        "a: 1\n- b\n",
        "- a: 1\n b: 2\n",
        "a:\n  - x\n  b: 1\n",
        "a:\n  - x\n    - y\n",
        "a:\n  - x\n   - y\n",
        "a:\n  -   b: 1\n      c: 2\n",
        "a:\n  -  x\n",
        "a: 1\na: 2\n",
        "a: {\"b\": 1, \"b\": 2}\n",
        "a: {\"<<\": 1}\n",
        "\"<<\": 1\n",
        "\"a\": 1\na: 2\n",
        "\"a\":1\n",
        "\"a\" : 1\n",
        "a : 1\n",
        "a:1\n",
        "a: b: c\n",
        "a: b:\n",
        "a: b:c\n",
        "a: http://example.com/x?y=1\n",
        "a: 'x'\n",
        "a: |\n  x\n",
        "a: >-\n  x\n",
        "a: &x 1\nb: *x\n",
        "a: !!str 1\n",
        "? a\n: 1\n",
        "a: [1, 2\n",
        "a: {b: 1}\n",
        "a: [a, b]\n",
        "a: \"x\" # c\n",
        "a: \"x\" y\n",
        "%YAML 1.2\n---\na: 1\n",
        "a: 1\n...\n",
        "---\n- a\n",
        "--- a: 1\n",
        "---\n",
        "",
        "\n\n",
        "a: 1\r\n",
        "a:\t1\n",
        "\u{feff}a: 1\n",
        "a: \"\u{85}\"\n",
        "a: \"\u{2028}\"\n",
        "a: x y  z\n",
        "a: -x\n",
        "a: - x\n",
        "a: -\n",
        "a: ~x\n",
        "a: x#y\n",
        "a: x #y\n",
        "a: x,y\n",
        "a.b/c-d_e: 1\n",
        "a_: 1\n_a: 2\n",
        "1a: 1\n",
        "  a: 1\n  b: 2\n",
        "  a: 1\nb: 2\n",
        "a:\n  b:\n  - c\n  d: 1\n",
        "\"k\":\n  - 1\n\"l\":\n- 2\n",
        "- \"x\": 1\n  y: 2\n",
        "a:\n  - {\"b\": 1}\n  - [2]\n  - \"s\"\n  - 3\n  - t\n",
        "a:\n  - {\"b\": 1}\n    c: 1\n",
        "a: {b: 1, c: [x, y], d: {}}\n",
        "a: { b: 1 ,c: 2 }\n",
        "a: [ ]\nb: { }\nc: [ [ ] , { } ]\n",
        "a: [a, b,]\n",
        "a: {b: 1,}\n",
        "a: [,]\n",
        "a: {,}\n",
        "a: {b}\n",
        "a: {b, c: 1}\n",
        "a: {b: }\n",
        "a: {b:}\n",
        "a: {b:, c: 1}\n",
        "a: {b:1}\n",
        "a: {b :1}\n",
        "a: {b : 1}\n",
        "a: {\"b\":1}\n",
        "a: {\"b\":c}\n",
        "a: {\"b\" :c}\n",
        "a: {\"b\":[c]}\n",
        "a: {b:[c]}\n",
        "a: {b: [c]}\n",
        "a: {? b: 1}\n",
        "a: {? b}\n",
        "a: {'b': 1}\n",
        "a: ['x']\n",
        "a: [b: 1]\n",
        "a: [\"b\": 1]\n",
        "a: [b:]\n",
        "a: {b: c: d}\n",
        "a: {b: c:d}\n",
        "a: [c:d, e:f]\n",
        "a: [x:, y]\n",
        "a: {b: x y, c: x  y }\n",
        "a: {b: yes, c: [on, n], d: {e: Off}}\n",
        "a: [yes, [no, {b: y}]]\n",
        "a: {yes: 1}\n",
        "a: {True: 1}\n",
        "a: {1: 1}\n",
        "a: {b: 1, b: 2}\n",
        "a: {b: 1, \"b\": 2}\n",
        "a: {<<: {c: 1}}\n",
        "a: {b: [1, 2\n",
        "a: {b: [1, 2]\n  }\n",
        "a: {b: 1} # c\n",
        "a: {b: 1}#c\n",
        "a: {b: 1},\n",
        "a: [x] y\n",
        "a: [x]]\n",
        "a: {b: 1}}\n",
        "a: {b: 1]\n",
        "a: [1}\n",
        "a: {b: \"\\u00e9\", \"\u{e9}\": on}\n",
        "\"\u{e9}\": {b: on, c: [\"\u{e9}\", n]}\n",
        "- {a: on, b: [y]}\n- [off]\n",
        "a:\n  - {b: on}\n  - [y, {c: n}]\n",
        "a: [[[]], {b: [{}]}]\n",
        "a: {b: #c}\n",
        "a: [a#b]\n",
        "a: [a #b]\n",
        "a: [-x, -1, ~, null, true, 1.5]\n",
        "a: [-1, ~, null, true, false, 0]\n",
        "a: {b: -}\n",
        "a: [- x]\n",
        "a: [-]\n",
        "a: [a, {b: c}: d]\n",
        "a: {b: [c]: d}\n",
        "a: {b: {c: d}e}\n",
        "a: {[b]: c}\n",
        "a: {{b: c}: d}\n",
        "a: [x y:z, a/b:c, ok()]\n",
        "a: [x:y:z, \"p\"]\n",
        "a: [(x), @y, %z, =w]\n",
        "a: [&x y, *x]\n",
        "a: [!!str 1]\n",
        "a: [|, >]\n",
        "a: [`x`]\n",
        "a: {b: 'c'}\n",
        "a: [\"x\"y]\n",
        "a: [\"x\" , \"y\" ]\n",
        "a: [\"\\x41\"]\n",
        "a: [1.0, 1e3]\n",
        "a: [1000000000000000000]\n",
        "a: {b: 250m, c: 256Mi, d: /healthz, e: 720h, f: [1h30m, /x/y, 8080tcp]}\n",
        "a: 250m\nb: /healthz\nc: 2001-12-14t21:59:43.10-05:00\nd: [2001-12-14t21:59:43.10-05:00]\n",
        "a: [2026-01-01, 12:30, 0777, 1_000]\n",
        "a: {b: 0777}\n",
        "a: {b: x}   \n",
        "a: {  b:   x  ,   c:   [  y  ,  z  ]  }\n",
    ];

    /// Mappings nested `depth` deep, the innermost holding a scalar or three levels of JSON.
    fn nested(depth: usize, json: bool) -> String {
        let mut src = String::new();
        for i in 0..depth.saturating_sub(1) {
            src.push_str(&format!("{}k{i}:\n", " ".repeat(i)));
        }
        let i = depth.saturating_sub(1);
        if json {
            src.push_str(&format!("{}k{i}: {{\"x\": [{{}}]}}\n", " ".repeat(i)));
        } else {
            src.push_str(&format!("{}k{i}: x\n", " ".repeat(i)));
        }
        src
    }

    /// The block reader's promise on one text: what it reads, serde-saphyr reads to the same
    /// documents, and `ambiguous_plain_scalars` finds the same warnings at the same positions.
    /// Whether it read the text.
    fn block_reader_agrees(src: &str) -> bool {
        let Some(fast) = block::block_documents(src) else {
            return false;
        };
        let slow = documents_via_serde(src).unwrap_or_else(|e| {
            panic!("the block reader read what serde-saphyr refuses: {src:?}: {e}")
        });
        assert_eq!(fast.documents, slow, "{src:?}");
        assert_eq!(fast.ambiguous, ambiguous_plain_scalars(src), "{src:?}");
        true
    }

    #[test]
    fn the_block_reader_reads_rendered_template_output_as_the_parser_does() {
        for src in RENDERED.iter().chain(ENVIRONMENTS) {
            assert!(block_reader_agrees(src), "not on the fast path: {src}");
            assert!(template_output(src).is_ok());
        }
    }

    #[test]
    fn the_block_reader_agrees_with_the_parser_or_declines_at_the_edges() {
        let mut read = 0;
        for src in EDGES {
            read += usize::from(block_reader_agrees(src));
        }
        let deep: Vec<String> = (60..=MAX_DEPTH + 2)
            .flat_map(|d| [nested(d, false), nested(d, true)])
            .collect();
        for src in &deep {
            read += usize::from(block_reader_agrees(src));
        }
        assert!(read > 40, "the block reader read only {read} edge cases");
        for (src, warnings) in [
            (
                "a: yes\nb:\n- on\n- n\nc: {\"d\": \"on\"}\n",
                vec![(1, 4), (3, 3), (4, 3)],
            ),
            ("x:\n  - k: Off\n    y: No\n", vec![(2, 8), (3, 8)]),
            (
                "a: {b: on, c: [y, {d: n}], e: \"off\"}\n\"\u{e9}\": [ No ]\n",
                vec![(1, 8), (1, 16), (1, 23), (2, 8)],
            ),
        ] {
            let read = block::block_documents(src).expect(src);
            let at: Vec<_> = read
                .ambiguous
                .iter()
                .map(|a| (a.position.line, a.position.column))
                .collect();
            assert_eq!(at, warnings, "{src}");
            assert!(block_reader_agrees(src));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn the_block_reader_reads_generated_streams_as_serde_saphyr_does_or_declines(
            src in edited_stream()
        ) {
            block_reader_agrees(&src);
        }

        #[test]
        fn the_block_reader_reads_edited_template_output_as_serde_saphyr_does_or_declines(
            src in edit_all(RENDERED)
        ) {
            block_reader_agrees(&src);
        }

        #[test]
        fn environment_files_read_quickly_as_serde_reads_them_after_any_edit(
            src in edit_all(ENVIRONMENTS)
        ) {
            quick_read_agrees::<crate::environment::EnvironmentFile>(&src);
        }

        #[test]
        fn generated_streams_read_quickly_as_serde_reads_them_or_not_at_all(
            src in edited_stream()
        ) {
            quick_read_agrees::<Value>(&src);
        }

        #[test]
        fn the_direct_writer_writes_generated_values_as_serde_saphyr_or_declines(
            value in value()
        ) {
            if let Some(fast) = emit::canonical(&value, top_level_rank) {
                prop_assert_eq!(fast, canonical_via_serde(&value));
            }
        }
    }

    /// A usual manifest, which the direct writer must write itself.
    fn manifest() -> Value {
        serde_json::json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "app", "namespace": "team-00000", "labels": {"app.kubernetes.io/name": "app", "hadr.dev/region": "eastus2"}},
            "spec": {
                "replicas": 3,
                "template": {"spec": {
                    "containers": [{"name": "app", "image": "registry.example.com/app:1.0.0",
                        "envFrom": [{"configMapRef": {"name": "app-config-7d49m26859"}}],
                        "ports": [{"containerPort": 8080, "name": "http"}],
                        "resources": {"limits": {"memory": "512Mi"}, "requests": {"cpu": "250m"}}}],
                    "topologySpreadConstraints": [{"maxSkew": 1, "labelSelector": {"matchLabels": {"app": "x"}}}],
                    "tolerations": [], "nodeSelector": {}, "x": [[1, 2], [], [{}], [{"a": null}]]
                }}
            },
            "data": {"SHARD": "0", "FEATURE_X": "on", "LOG_LEVEL": "info", "URL": "http://x:80/a b", "n": "N"}
        })
    }

    #[test]
    fn the_direct_writer_writes_a_manifest_byte_for_byte_as_serde_saphyr() {
        let value = manifest();
        let fast =
            emit::canonical(&value, top_level_rank).expect("a usual manifest is written directly");
        assert_eq!(fast, canonical_via_serde(&value));
        // Again, with the strings remembered.
        assert_eq!(emit::canonical(&value, top_level_rank).unwrap(), fast);
    }
}
