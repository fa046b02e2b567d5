//! The token `vault login` / `bao login` leaves in `~/.vault-token`, with the
//! server `VAULT_ADDR` (or `BAO_ADDR`) names. The token itself is not read:
//! its lifetime is the server's to tell, once the credential is added.

use crate::discover::{Found, Places};

/// `~/.vault-token`, when it exists and an address is set.
pub(crate) fn discover(places: &Places) -> Vec<Found> {
    let file = places.home(".vault-token");
    if !file.is_file() {
        return Vec::new();
    }
    let Some(address) = places.var("VAULT_ADDR").or_else(|| places.var("BAO_ADDR")) else {
        return Vec::new();
    };
    let shown = places.show(&file);
    vec![Found::new(
        super::KIND,
        "vault-token",
        shown.clone(),
        format!("a token for {address}"),
    )
    .with("address", address)
    .with("token_file", shown)
    .noting("its expiry is the server's to tell: Evergreen asks it (lookup-self) once the credential is added")
    .renewing()]
}
