//! The procedure catalogue (用件) and applicant types, from `config/procedures.toml`.

use std::fmt;
use std::str::FromStr;

use crate::config::{ApplicantSettings, ProcedureSettings, Settings};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplicantType {
    Holder,
    LegalRepresentative,
    VoluntaryProxy,
}

impl ApplicantType {
    pub const ALL: [ApplicantType; 3] = [
        ApplicantType::Holder,
        ApplicantType::LegalRepresentative,
        ApplicantType::VoluntaryProxy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApplicantType::Holder => "holder",
            ApplicantType::LegalRepresentative => "legal_representative",
            ApplicantType::VoluntaryProxy => "voluntary_proxy",
        }
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            ApplicantType::Holder => "本人",
            ApplicantType::LegalRepresentative => "法定代理人",
            ApplicantType::VoluntaryProxy => "任意代理人",
        }
    }
}

impl fmt::Display for ApplicantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ApplicantType {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ApplicantType::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or(())
    }
}

#[derive(Debug, Clone)]
pub struct Catalogue {
    procedures: Vec<ProcedureSettings>,
}

impl Catalogue {
    pub fn from_settings(s: &Settings) -> Self {
        Catalogue {
            procedures: s.procedures.clone(),
        }
    }

    pub fn all(&self) -> &[ProcedureSettings] {
        &self.procedures
    }

    pub fn get(&self, id: &str) -> Option<&ProcedureSettings> {
        self.procedures.iter().find(|p| p.id == id)
    }
}

impl ProcedureSettings {
    pub fn applicant(&self, t: ApplicantType) -> &ApplicantSettings {
        match t {
            ApplicantType::Holder => &self.applicants.holder,
            ApplicantType::LegalRepresentative => &self.applicants.legal_representative,
            ApplicantType::VoluntaryProxy => &self.applicants.voluntary_proxy,
        }
    }
}
