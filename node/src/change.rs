//! What the writer does with each area's command: check it against the views as staged so
//! far, append its events, and compose the follow-ups one change sets off in another area
//! (a grading to level I or II shares the risk upwards and files a major-issue report in the
//! same durable write). Areas never call each other; this is where they meet on the way in,
//! as [`crate::dispatch`] is where they meet on the way out.

use crate::domain::risk::{RiskLookup, RiskRef};
use crate::event::Event;
use crate::register::{self, RegisterError};
use crate::store::{Batch, Store};
use crate::sync::{crl, directory, rekey};
use crate::writer::{Change, Staging, WriteError, Written};
use crate::{comms, disposal};

/// Nothing written (a command with nothing to do, e.g. publishing an unchanged CRL).
fn nothing() -> Written {
    Written {
        id: String::new(),
        seq: 0,
    }
}

/// The register answering other areas' commands about the risks they name.
pub struct Risks<'a> {
    store: &'a dyn Store,
    batch: &'a Batch,
}

impl<'a> Risks<'a> {
    /// The register as staged in `batch` over `store`.
    pub fn new(store: &'a dyn Store, batch: &'a Batch) -> Self {
        Self { store, batch }
    }
}

impl RiskLookup for Risks<'_> {
    fn risk(&self, id: &str) -> Result<Option<RiskRef>, String> {
        let record =
            register::view::load(&self.batch.over(self.store), id).map_err(|e| e.to_string())?;
        Ok(record.map(|r| RiskRef {
            level: r.level(),
            origin: r.origin,
            title: r.title,
        }))
    }
}

impl Change for register::Command {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        // Due dates are compared with the write's date where the people are.
        let today = crate::timespec::local_date(staging.now_ms());
        let planned = register::command::prepare(
            staging.store(),
            batch,
            staging.unit(),
            staging.standard(),
            &today,
            self,
        )?;
        let mut written = nothing();
        // Each event is checked before anything of it is staged; follow-ups cannot fail
        // their checks (they restate what was just applied).
        for (audience, event) in planned {
            let previous = match &event {
                Event::RiskGraded { id, .. } => {
                    register::view::load(&batch.over(staging.store()), id)?.and_then(|r| r.level())
                }
                _ => None,
            };
            written.seq = staging.append(batch, author, audience, &event)?;
            written.id = event.risk_id().unwrap_or_default().to_owned();
            if let Some((audience, follow)) =
                register::command::follow_up(staging.store(), batch, &event)?
            {
                written.seq = staging.append(batch, author, audience, &follow)?;
            }
            // The major-issue report rides in the same durable write as the grading.
            let report = comms::command::report_on_grading(
                staging.store(),
                batch,
                staging.unit(),
                previous,
                &event,
                &Risks {
                    store: staging.store(),
                    batch,
                },
            )?;
            if let Some((audience, report)) = report {
                written.seq = staging.append(batch, author, audience, &report)?;
            }
        }
        Ok(written)
    }
}

impl Change for comms::Command {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let store = staging.store();
        let risks = Risks { store, batch };
        let planned =
            comms::command::prepare(store, batch, staging.unit(), staging.now_ms(), self, &risks)?;
        let Some((audience, event)) = planned else {
            return Ok(nothing());
        };
        Ok(Written {
            seq: staging.append(batch, author, audience, &event)?,
            id: event.item_id().unwrap_or_default().to_owned(),
        })
    }
}

impl Change for disposal::Command {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let store = staging.store();
        let risks = Risks { store, batch };
        let planned = disposal::command::prepare(
            store,
            batch,
            staging.unit(),
            staging.now_ms(),
            self,
            &risks,
        )?;
        let Some((audience, event)) = planned else {
            return Ok(nothing());
        };
        Ok(Written {
            seq: staging.append(batch, author, audience, &event)?,
            id: event
                .item_id()
                .or(event.disposal_id())
                .unwrap_or_default()
                .to_owned(),
        })
    }
}

impl Change for rekey::Command {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let (audience, event) = rekey::prepare(staging.store(), batch, staging.unit(), self)?;
        let seq = staging.append(batch, author, audience, &event)?;
        let cut = rekey::apply(staging.store(), batch, &event).map_err(RegisterError::from)?;
        staging.note_truncated(cut);
        Ok(Written {
            seq,
            id: self.county.clone(),
        })
    }

    fn may_rekey(&self) -> bool {
        true
    }
}

impl Change for directory::ListCommand {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let Some((audience, event)) =
            directory::prepare_listing(staging.store(), batch, staging.unit(), self)?
        else {
            return Ok(nothing());
        };
        let seq = staging.append(batch, author, audience, &event)?;
        if let Event::CertificateListed { certificate } = &event {
            directory::apply_listed(batch, certificate);
        }
        Ok(Written {
            seq,
            id: String::new(),
        })
    }
}

impl Change for crl::Command {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let Some((audience, event)) = crl::prepare(staging.store(), batch, staging.unit(), self)?
        else {
            return Ok(nothing());
        };
        Ok(Written {
            seq: staging.append(batch, author, audience, &event)?,
            id: String::new(),
        })
    }
}

impl Change for crate::intake::counts::PublishCounts {
    fn run(
        &self,
        staging: &mut Staging<'_>,
        batch: &mut Batch,
        author: &str,
    ) -> Result<Written, WriteError> {
        let unit = staging.unit().to_owned();
        let event =
            crate::intake::counts::publish(&batch.over(staging.store()), &unit, self.0.clone())
                .map_err(RegisterError::from)?;
        let Some(event) = event else {
            return Ok(nothing());
        };
        Ok(Written {
            seq: staging.append(batch, author, crate::feed::Audience::Province, &event)?,
            id: String::new(),
        })
    }
}
