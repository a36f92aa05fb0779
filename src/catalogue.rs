//! The procedure catalogue (用件) and applicant types, from `config/procedures.toml`.

use crate::config::{ApplicantSettings, ProcedureSettings, Settings};

/// Who comes to the counter: the card holder, a legal representative or a voluntary proxy.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    serde::Serialize,
    serde::Deserialize,
    utoipa::ToSchema,
    diesel::AsExpression,
    diesel::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "snake_case")]
pub enum ApplicantType {
    Holder,
    LegalRepresentative,
    VoluntaryProxy,
}

crate::db::text_enum!(ApplicantType {
    Holder => "holder",
    LegalRepresentative => "legal_representative",
    VoluntaryProxy => "voluntary_proxy",
});

impl ApplicantType {
    pub fn name_ja(self) -> &'static str {
        match self {
            ApplicantType::Holder => "本人",
            ApplicantType::LegalRepresentative => "法定代理人",
            ApplicantType::VoluntaryProxy => "任意代理人",
        }
    }

    pub fn name_en(self) -> &'static str {
        match self {
            ApplicantType::Holder => "Card holder",
            ApplicantType::LegalRepresentative => "Legal representative",
            ApplicantType::VoluntaryProxy => "Voluntary proxy",
        }
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
