//! Two functions exported under the same name `twin`: which one a task ran would
//! depend on registration order, so the host refuses the component at load.

/// One `twin`.
#[rustyray::remote(name = "twin")]
fn twin_adds(a: u64, b: u64) -> u64 {
    a + b
}

/// The other `twin`.
#[rustyray::remote(name = "twin")]
fn twin_shouts(text: String) -> String {
    text.to_uppercase()
}
