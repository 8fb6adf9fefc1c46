//! A request RBAC refused (HTTP 403): which permission was missing, for whom, and which of
//! the roles shipped in `deploy/rbac/` grants it.
//!
//! The API server's 403 Status names the permission only in its message (the details carry the
//! resource and name, not the verb); its shape is fixed by `forbiddenMessage` in
//! k8s.io/apiserver/pkg/endpoints/handlers/responsewriters/errors.go:
//! `<resource> "<name>" is forbidden: User "<user>" cannot <verb> resource "<resource>[/<sub>]"
//! in API group "<group>" (in the namespace "<ns>" | at the cluster scope)[: <reason>]`.

use std::fmt;

use serde_json::Value;

/// The shipped RBAC manifests, read at build time so the fix we name can never drift from
/// the files users apply: (path in the repository, contents).
const SHIPPED: &[(&str, &str)] = &[
    (
        "deploy/rbac/deployer.yaml",
        include_str!("../../deploy/rbac/deployer.yaml"),
    ),
    (
        "deploy/rbac/backup.yaml",
        include_str!("../../deploy/rbac/backup.yaml"),
    ),
    (
        "deploy/rbac/drill.yaml",
        include_str!("../../deploy/rbac/drill.yaml"),
    ),
    (
        "deploy/rbac/drill-region.yaml",
        include_str!("../../deploy/rbac/drill-region.yaml"),
    ),
];

/// One permission as RBAC checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    /// `get`, `list`, `watch`, `create`, `patch`, `update`, `delete`, ...
    pub verb: String,
    /// The plural resource, with its subresource after a slash (`pods/eviction`).
    pub resource: String,
    /// `""` for the core group.
    pub group: String,
    /// `None` at the cluster scope.
    pub namespace: Option<String>,
    /// The user the server saw (`system:serviceaccount:<ns>:<name>` for a ServiceAccount).
    pub user: String,
}

/// A shipped Role or ClusterRole that grants a permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `Role` or `ClusterRole`.
    pub kind: String,
    pub name: String,
    /// Where the role is shipped, e.g. `deploy/rbac/deployer.yaml`.
    pub file: &'static str,
}

impl Permission {
    /// The permission a 403 message names; `None` for a message of another shape (a
    /// non-resource path, an admission webhook's refusal).
    pub fn from_message(message: &str) -> Option<Permission> {
        let user = between(message, "User \"", "\"")?;
        let rest = &message[message.find("\" cannot ")? + "\" cannot ".len()..];
        let (verb, rest) = rest.split_once(' ')?;
        let resource = between(rest, "resource \"", "\"")?;
        let group = between(rest, "in API group \"", "\"")?;
        let namespace = between(rest, "in the namespace \"", "\"");
        Some(Permission {
            verb: verb.into(),
            resource: resource.into(),
            group: group.into(),
            namespace: namespace.map(String::from),
            user: user.into(),
        })
    }

    /// The shipped roles with a rule that grants this permission (apiGroups, resources and
    /// verbs each list it or `*`), in file order, from the first file that has any: the
    /// cluster-wide `drill-region.yaml` comes last and is named only when no narrower role
    /// grants the permission.
    pub fn granted_by(&self) -> Vec<Grant> {
        let mut out = Vec::new();
        for (file, text) in SHIPPED {
            if !out.is_empty() {
                break;
            }
            for role in crate::yaml::documents(text).unwrap_or_default() {
                let kind = role["kind"].as_str().unwrap_or_default();
                if !matches!(kind, "Role" | "ClusterRole") || !self.in_role(&role) {
                    continue;
                }
                out.push(Grant {
                    kind: kind.into(),
                    name: role["metadata"]["name"].as_str().unwrap_or_default().into(),
                    file,
                });
            }
        }
        out
    }

    fn in_role(&self, role: &Value) -> bool {
        let lists = |rule: &Value, field: &str, wanted: &str| {
            rule[field]
                .as_array()
                .is_some_and(|v| v.iter().any(|x| x == wanted || x == "*"))
        };
        // A Role grants only in its own namespace (the shipped ones name theirs).
        let role_namespace = role["metadata"]["namespace"].as_str();
        if role["kind"] == "Role" && role_namespace != self.namespace.as_deref() {
            return false;
        }
        role["rules"].as_array().is_some_and(|rules| {
            rules.iter().any(|rule| {
                lists(rule, "apiGroups", &self.group)
                    && lists(rule, "resources", &self.resource)
                    && lists(rule, "verbs", &self.verb)
            })
        })
    }

    /// How to grant it, in words: the shipped role and how to bind it, or the rule to add.
    pub fn fix(&self) -> String {
        let grants = self.granted_by();
        let rule = format!(
            "a rule {{apiGroups: [\"{}\"], resources: [\"{}\"], verbs: [\"{}\"]}}",
            self.group, self.resource, self.verb
        );
        let Some(first) = grants.first() else {
            return format!(
                "no role shipped in deploy/rbac/ grants it: add {rule} to a role bound to `{}`",
                self.user
            );
        };
        let named: Vec<String> = grants
            .iter()
            .map(|g| format!("{} `{}` ({})", g.kind, g.name, g.file))
            .collect();
        let bind = match &self.namespace {
            Some(ns) => format!("with a RoleBinding in namespace `{ns}`"),
            None => "with a ClusterRoleBinding".to_string(),
        };
        format!(
            "{} grants it: apply it and bind it to `{}` {bind} (kubectl apply -f {}); if it is bound, its rule was removed: restore {rule}",
            named.join(", or "),
            self.user,
            first.file
        )
    }
}

impl fmt::Display for Permission {
    /// `create pods/eviction (core API group) in namespace "a"` or `patch nodes (core API
    /// group) at the cluster scope`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = match self.group.as_str() {
            "" => "core API group".to_string(),
            g => format!("API group {g}"),
        };
        write!(f, "`{}` on `{}` ({group}) ", self.verb, self.resource)?;
        match &self.namespace {
            Some(ns) => write!(f, "in namespace `{ns}`"),
            None => f.write_str("at the cluster scope"),
        }
    }
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMESPACED: &str = r#"pods "web-1" is forbidden: User "system:serviceaccount:ci:hadr" cannot create resource "pods/eviction" in API group "" in the namespace "my-app""#;
    const CLUSTER: &str = r#"nodes is forbidden: User "system:serviceaccount:ci:hadr" cannot patch resource "nodes" in API group "" at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "x" not found"#;

    #[test]
    fn a_namespaced_refusal_names_verb_subresource_group_namespace_and_user() {
        let p = Permission::from_message(NAMESPACED).unwrap();
        assert_eq!(
            p,
            Permission {
                verb: "create".into(),
                resource: "pods/eviction".into(),
                group: "".into(),
                namespace: Some("my-app".into()),
                user: "system:serviceaccount:ci:hadr".into(),
            }
        );
        assert_eq!(
            p.to_string(),
            "`create` on `pods/eviction` (core API group) in namespace `my-app`"
        );
    }

    #[test]
    fn a_cluster_scoped_refusal_has_no_namespace_and_the_reason_is_not_taken_for_one() {
        let p = Permission::from_message(CLUSTER).unwrap();
        assert_eq!((p.verb.as_str(), p.namespace), ("patch", None));
        assert_eq!(p.resource, "nodes");
    }

    #[test]
    fn a_path_refusal_or_a_webhook_message_is_not_a_permission() {
        let path = r#"forbidden: User "x" cannot get path "/apis""#;
        assert_eq!(Permission::from_message(path), None);
        assert_eq!(Permission::from_message("admission webhook denied"), None);
    }

    #[test]
    fn every_shipped_manifest_parses_and_names_its_roles() {
        for (file, text) in SHIPPED {
            let docs = crate::yaml::documents(text).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert!(
                docs.iter()
                    .any(|d| d["kind"] == "ClusterRole" || d["kind"] == "Role"),
                "{file} ships no role"
            );
        }
    }

    fn permission(verb: &str, resource: &str, group: &str, ns: Option<&str>) -> Permission {
        Permission {
            verb: verb.into(),
            resource: resource.into(),
            group: group.into(),
            namespace: ns.map(String::from),
            user: "u".into(),
        }
    }

    #[test]
    fn each_command_s_permissions_are_granted_by_its_shipped_role() {
        let cases = [
            (
                "patch",
                "deployments",
                "apps",
                Some("my-app"),
                "hadr-deployer",
            ),
            (
                "create",
                "leases",
                "coordination.k8s.io",
                Some("my-app"),
                "hadr-deployer",
            ),
            ("patch", "namespaces", "", None, "hadr-deployer-cluster"),
            (
                "create",
                "backups",
                "velero.io",
                Some("velero"),
                "hadr-backup",
            ),
            ("patch", "nodes", "", None, "hadr-drill"),
            ("create", "pods/eviction", "", Some("other"), "hadr-drill"),
        ];
        for (verb, resource, group, ns, role) in cases {
            let p = permission(verb, resource, group, ns);
            let names: Vec<String> = p.granted_by().into_iter().map(|g| g.name).collect();
            assert!(names.contains(&role.to_string()), "{p}: {names:?}");
        }
    }

    #[test]
    fn a_role_in_another_namespace_does_not_grant_and_the_fix_says_what_to_add() {
        let p = permission("create", "backups", "velero.io", Some("elsewhere"));
        assert!(p.granted_by().iter().all(|g| g.kind != "Role"));
        let p = permission(
            "escalate",
            "clusterroles",
            "rbac.authorization.k8s.io",
            None,
        );
        assert_eq!(
            p.fix(),
            "no role shipped in deploy/rbac/ grants it: add a rule {apiGroups: [\"rbac.authorization.k8s.io\"], resources: [\"clusterroles\"], verbs: [\"escalate\"]} to a role bound to `u`"
        );
    }
}
