//! A throw-away provincial CA: `fenghuo ca init` in a temporary folder, then certificates
//! issued and revoked with the real CLI, exactly as an operator would.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::cli::Cli;

/// The three files a client presents and trusts: its certificate, its key, and the CA.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The client certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PKCS#8 PEM).
    pub key: PathBuf,
    /// The CA certificate the client trusts the server with.
    pub ca: PathBuf,
}

impl Credentials {
    /// The same certificate and key, trusting `ca` instead (e.g. another province's CA).
    pub fn trusting(mut self, ca: impl Into<PathBuf>) -> Self {
        self.ca = ca.into();
        self
    }
}

/// The unit a certificate stem acts for: `staff-510104-zhang` and `county-510104` → 510104,
/// `staff-51-wang` and `province-51` → 51; a partner acts for none.
pub fn unit_of(stem: &str) -> Option<&str> {
    let mut parts = stem.split('-');
    match parts.next()? {
        "staff" | "county" | "province" => parts.next(),
        _ => None,
    }
}

/// A provincial CA in its own temporary folder, removed on drop.
///
/// Every `issue_*` method runs `fenghuo ca issue …` and returns `&Self`, so issuing reads as
/// a chain: `TestPki::new("51").issue_county("510104").issue_staff("510104", "zhang");`.
#[derive(Debug)]
pub struct TestPki {
    /// The province the CA issues for, e.g. "51".
    province: String,
    /// Holds ca.crt, ca.key, crl.pem, issued.json and every issued `<stem>.crt/.key`; its
    /// drop deletes them.
    dir: TempDir,
}

impl TestPki {
    /// Creates the CA of `province` (two digits, e.g. "51") with `fenghuo ca init`.
    pub fn new(province: &str) -> Self {
        let dir = tempfile::Builder::new()
            .prefix(&format!("fenghuo-pki-{province}-"))
            .tempdir()
            .expect("cannot create a temporary folder for the test CA");
        let pki = Self {
            province: province.to_owned(),
            dir,
        };
        pki.run_ca(["init", "--province", province]);
        pki
    }

    /// Runs `fenghuo ca <args> --dir <this CA>` and asserts it succeeds.
    pub fn run_ca<I, S>(&self, args: I) -> &Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Cli::new()
            .arg("ca")
            .args(args)
            .arg("--dir")
            .arg(self.dir())
            .run()
            .ok();
        self
    }

    /// Issues the node certificate `county-<code>`.
    pub fn issue_county(&self, code: &str) -> &Self {
        self.run_ca(["issue", "county", code])
    }

    /// Issues the staff certificate `staff-<unit>-<name>`; `unit` is a county or the province.
    pub fn issue_staff(&self, unit: &str, name: &str) -> &Self {
        self.run_ca(["issue", "staff", unit, name])
    }

    /// Issues the province's certificates (`province-<code>`, `staff-<code>-p`) and each
    /// county's (`county-<c>`, `staff-<c>-s`) of the kind issued before TLS keys were ECDSA:
    /// one Ed25519 key for TLS and feeds, no feed-key extension.
    pub fn issue_legacy(&self, province: &str, counties: &[String]) -> &Self {
        use fenghuo_node::identity::Identity;
        use fenghuo_node::pki::ca::{CertificateAuthority, IssueOptions};
        let mut ca = CertificateAuthority::open(self.dir()).expect("the test CA opens");
        let legacy = IssueOptions {
            legacy_ed25519: true,
            ..IssueOptions::default()
        };
        let mut identities = vec![
            Identity::province(province).expect("a province code"),
            Identity::staff(province, "p").expect("a staff identity"),
        ];
        for c in counties {
            identities.push(Identity::county(c).expect("a county code"));
            identities.push(Identity::staff(c, "s").expect("a staff identity"));
        }
        for identity in identities {
            ca.issue(&identity, &legacy)
                .unwrap_or_else(|e| panic!("issuing {identity}: {e}"));
        }
        self
    }

    /// Issues the gateway certificate `province-<code>`.
    pub fn issue_province(&self, code: &str) -> &Self {
        self.run_ca(["issue", "province", code])
    }

    /// Issues the dashboard certificate `province-<code>-web` (and the web CA, `ca-web.crt`).
    pub fn issue_web(&self) -> &Self {
        self.run_ca(["issue", "web"])
    }

    /// Makes sure the web certificate `county-<code>-web` that `fenghuo init node --web` names
    /// exists, issuing it with `fenghuo ca issue web <code>` (it names `localhost` and
    /// `127.0.0.1` too, so the tests' clients accept it).
    pub fn ensure_county_web(&self, code: &str) -> &Self {
        let stem = format!("county-{code}-web");
        if self.cert(&stem).is_file() {
            return self;
        }
        let issued = Cli::new()
            .args(["ca", "issue", "web", code])
            .arg("--dir")
            .arg(self.dir())
            .run();
        assert!(
            issued.status.success() && self.cert(&stem).is_file(),
            "fenghuo ca issue web {code} failed: {}",
            issued.stderr
        );
        self
    }

    /// The web CA's certificate, which browsers of the dashboard trust.
    pub fn web_ca_cert(&self) -> PathBuf {
        self.dir().join("ca-web.crt")
    }

    /// Issues the partner certificate `partner-<name>`.
    pub fn issue_partner(&self, name: &str) -> &Self {
        self.run_ca(["issue", "partner", name])
    }

    /// Revokes `stem` (e.g. "staff-510104-wang"): `fenghuo ca revoke` rewrites crl.pem.
    pub fn revoke(&self, stem: &str) -> &Self {
        self.run_ca(["revoke", stem])
    }

    /// The province code this CA was created for.
    pub fn province(&self) -> &str {
        &self.province
    }

    /// The CA folder (what `fenghuo init node --pki` takes).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `ca.crt`, the trust anchor.
    pub fn ca_cert(&self) -> PathBuf {
        self.dir().join("ca.crt")
    }

    /// `crl.pem`, the revocation list nodes watch.
    pub fn crl(&self) -> PathBuf {
        self.dir().join("crl.pem")
    }

    /// `<stem>.crt`.
    pub fn cert(&self, stem: &str) -> PathBuf {
        self.dir().join(format!("{stem}.crt"))
    }

    /// `<stem>.key`.
    pub fn key(&self, stem: &str) -> PathBuf {
        self.dir().join(format!("{stem}.key"))
    }

    /// `<stem>.feed.key`, a node's feed-signing key.
    pub fn feed_key(&self, stem: &str) -> PathBuf {
        self.dir().join(format!("{stem}.feed.key"))
    }

    /// The certificate and key of `stem`, trusting this CA; panics if `stem` was never issued.
    pub fn credentials(&self, stem: &str) -> Credentials {
        let creds = Credentials {
            cert: self.cert(stem),
            key: self.key(stem),
            ca: self.ca_cert(),
        };
        assert!(
            creds.cert.is_file() && creds.key.is_file(),
            "{stem} was not issued by the test CA in {} (call issue_* first)",
            self.dir().display()
        );
        creds
    }
}
