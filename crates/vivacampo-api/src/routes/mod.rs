//! Handlers, one module per resource. Handlers are thin: check input and role, call the store,
//! shape the answer.

pub mod admin;
pub mod aois;
pub mod auth;
pub mod boundaries;
pub mod farms;
pub mod flags;
pub mod jobs;
pub mod ops;
pub mod signals;
pub mod weather;
pub mod web;
pub mod webhooks;
pub mod weeks;
