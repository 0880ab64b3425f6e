//! Juice events over NATS (issue 19). So far: [`subject`], how a Juice topic frame becomes a NATS
//! subject and back, and which NATS subscriptions carry a Juice subscription. The transport that
//! uses it comes next; `docs/design/nats.md` has the plan.

pub mod subject;
