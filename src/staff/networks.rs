//! Where staff may sign in from (`staff.allowed_networks`): one CIDR list for every role, or a
//! list per role; an empty list (or a role not named) admits any address. Checked at sign-in
//! and again on every request, so a session taken elsewhere is no use outside the networks.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Role;
use crate::config::{parse_networks, NetworksByRole};

#[derive(Debug, Default)]
pub(crate) struct StaffNetworks {
    per_role: HashMap<Role, Vec<IpNet>>,
}

impl StaffNetworks {
    /// The setting, parsed (it was checked when the configuration was loaded).
    pub(crate) fn from_settings(setting: &NetworksByRole) -> Result<Self, String> {
        let mut per_role = HashMap::new();
        for role in [Role::Phone, Role::Desk, Role::Admin] {
            let list = parse_networks(setting.for_role(role.as_str()))?;
            per_role.insert(role, list);
        }
        // A kiosk stands at a counter: where the city's lists name no kiosk, the desk's.
        let kiosk = match setting.names("kiosk") {
            true => setting.for_role("kiosk"),
            false => setting.for_role("desk"),
        };
        per_role.insert(Role::Kiosk, parse_networks(kiosk)?);
        Ok(StaffNetworks { per_role })
    }

    /// Whether `role` may sign in (and work) from `ip`. No address known (a request that did
    /// not come over TCP): only where the role may work from anywhere.
    pub(crate) fn admits(&self, role: Role, ip: Option<IpAddr>) -> bool {
        match self.per_role.get(&role) {
            None => true,
            Some(list) if list.is_empty() => true,
            Some(list) => ip.is_some_and(|ip| list.iter().any(|n| n.contains(&ip))),
        }
    }

    /// Whether some role may sign in from `ip`: checked before the password, so a stranger
    /// outside every network learns nothing of it.
    pub(crate) fn admits_some_role(&self, ip: Option<IpAddr>) -> bool {
        [Role::Phone, Role::Desk, Role::Admin, Role::Kiosk]
            .into_iter()
            .any(|r| self.admits(r, ip))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn an_empty_setting_admits_everyone_from_anywhere() {
        let n = StaffNetworks::from_settings(&NetworksByRole::default()).unwrap();
        assert!(n.admits(Role::Admin, ip("203.0.113.9")));
        assert!(n.admits(Role::Phone, None));
    }

    #[test]
    fn one_list_binds_every_role() {
        let n = StaffNetworks::from_settings(&NetworksByRole::Everyone(vec!["10.1.0.0/16".into()]))
            .unwrap();
        assert!(n.admits(Role::Desk, ip("10.1.2.3")));
        assert!(!n.admits(Role::Desk, ip("10.2.0.1")));
        assert!(!n.admits(Role::Desk, None));
        assert!(!n.admits_some_role(ip("198.51.100.1")));
    }

    #[test]
    fn lists_per_role_bind_only_the_roles_named() {
        let map = BTreeMap::from([
            ("admin".to_string(), vec!["10.9.0.0/24".to_string()]),
            (
                "desk".to_string(),
                vec!["10.1.0.0/16".to_string(), "2001:db8::/32".to_string()],
            ),
        ]);
        let n = StaffNetworks::from_settings(&NetworksByRole::PerRole(map)).unwrap();
        assert!(n.admits(Role::Admin, ip("10.9.0.5")));
        assert!(!n.admits(Role::Admin, ip("10.1.0.5")));
        assert!(n.admits(Role::Desk, ip("2001:db8::7")));
        assert!(
            n.admits(Role::Phone, ip("198.51.100.1")),
            "phone: not named, anywhere"
        );
        assert!(n.admits_some_role(ip("198.51.100.1")));
    }
}
