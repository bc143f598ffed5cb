//! Engine tests against the real default models (SmolLM2-135M-Instruct and Gemma 3
//! 270M). One test binary, so each model is loaded once and shared by all tests.

mod common;

mod chat;
mod files;
mod generate;
mod isolated;
mod loglik;
mod shared;
