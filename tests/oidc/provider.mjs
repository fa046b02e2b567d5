// A real OpenID Connect provider for the tests (npm oidc-provider), on a
// loopback port: `node provider.mjs PORT CLIENTS_JSON`. Its development
// login and consent pages take any user name; its clients come from the
// JSON array given. It prints "ready ISSUER" once it listens.
import Provider from "oidc-provider";

const port = Number(process.argv[2]);
const clients = JSON.parse(process.argv[3] ?? "[]");
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients,
  features: {
    devInteractions: { enabled: true },
    deviceFlow: { enabled: true },
    revocation: { enabled: true },
  },
  pkce: { required: () => false },
  ttl: {
    AccessToken: Number(process.env.OIDC_ACCESS_TTL ?? 60),
    IdToken: 3600,
    RefreshToken: 86400,
    DeviceCode: 600,
    Interaction: 600,
    Session: 3600,
    Grant: 86400,
  },
  issueRefreshToken: () => true,
  // Every refresh hands out a new refresh token and retires the old one.
  rotateRefreshToken: true,
  findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, email: `${sub}@example.test` }) }),
  claims: { openid: ["sub"], email: ["email"] },
});
// Plain http on loopback is what the tests serve.
provider.proxy = false;

provider.listen(port, "127.0.0.1", () => {
  console.log(`ready ${issuer}`);
});
