//! The domain of public-opinion risk work, free of transport and storage: focus points,
//! levels, the grading standard, the three-step mechanism and its transitions, and shared
//! alerts (CAP's vocabularies and the checks a new alert passes), directives and consultations,
//! and disposal requests to partner websites (actions asked, outcomes answered); the
//! rule for the characters of text fields ([`text`]); the ids of items ([`item`]).

pub mod alert;
pub mod directive;
pub mod disposal;
pub mod grading;
pub mod item;
pub mod risk;
pub mod text;

pub use grading::{GradingError, GradingStandard, Level, Scores};
pub use risk::{FocusPoint, MeasureStatus, RiskStatus, TransitionError};
