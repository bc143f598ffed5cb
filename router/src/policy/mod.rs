//! The policies that choose among the models that passed the hard constraints, and
//! the latency model that feedback keeps calibrated.

pub mod change;
pub mod latency;
pub mod linucb;
pub mod thompson;

pub use latency::LatencyObs;
pub use linucb::LinUcb;
pub use thompson::Thompson;
