import { beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import Detail from "./Detail.svelte";
import * as api from "../lib/api";
import { HOUR, NOW, status } from "../test/fixtures";
import type { CredentialStatus } from "../bindings";

vi.mock(import("../lib/api"), async (importOriginal) => {
  const real = await importOriginal();
  return {
    ...real,
    history: vi.fn(),
    logLines: vi.fn(),
    setPaused: vi.fn(),
    register: vi.fn(),
    login: vi.fn(),
    onLogin: vi.fn(),
  };
});

// uPlot draws on a canvas, which jsdom does not have.
vi.mock("uplot", () => ({
  default: class {
    setData() {}
    setSize() {}
    destroy() {}
  },
}));

beforeEach(() => {
  vi.mocked(api.history).mockResolvedValue([]);
  vi.mocked(api.logLines).mockResolvedValue([]);
  vi.mocked(api.setPaused).mockResolvedValue(undefined);
});

function show(s: CredentialStatus) {
  render(Detail, { props: { name: s.name, status: s, now: NOW, onback: () => {}, onedit: () => {} } });
}

describe("Detail: pause and resume", () => {
  it("offers Pause on a running credential", async () => {
    show(status());
    const b = screen.getByTestId("pause");
    expect(b.textContent?.trim()).toBe("Pause");
    await fireEvent.click(b);
    expect(api.setPaused).toHaveBeenCalledWith("web", true);
  });

  it("offers Resume when the user paused it, without the Re-register form", async () => {
    show(status({ kind: "wrenn", state: "paused", reason: "whatever the engine says", user_paused: true, next_action: null }));
    const b = screen.getByTestId("pause");
    expect(b.textContent?.trim()).toBe("Resume");
    expect(screen.queryByTestId("register-form")).toBeNull();
    await fireEvent.click(b);
    expect(api.setPaused).toHaveBeenCalledWith("web", false);
  });

  it("shows the reason and the Re-register form, no Resume, for a wrenn host the server paused", () => {
    show(
      status({
        kind: "wrenn",
        state: "paused",
        reason: "paused by you",
        user_paused: false,
        next_action: null,
      }),
    );
    expect(screen.queryByTestId("pause")).toBeNull();
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
    expect(screen.getByTestId("register-form")).toBeTruthy();
    expect(screen.getByText(/^Paused: paused by you\. Re-register it/)).toBeTruthy();
  });

  it("shows the reason without any pause button for another kind the engine paused", () => {
    show(status({ kind: "vault_token", state: "paused", reason: "permission denied (403)", user_paused: false, next_action: null }));
    expect(screen.queryByTestId("pause")).toBeNull();
    expect(screen.queryByTestId("register-form")).toBeNull();
    expect(screen.getByText(/^Paused: permission denied \(403\)\./)).toBeTruthy();
  });

  it.each([
    ["retired", { state: "retired", reason: "gone" }],
    ["not_renewable", { state: "not_renewable" }],
    ["disabled", { state: "disabled" }],
    ["final", { state: "final", expires_at: NOW + HOUR }],
  ] as const)("offers no Pause when %s", (_l, extra) => {
    show(status(extra as never));
    expect(screen.queryByTestId("pause")).toBeNull();
    expect(screen.getByTestId("edit")).toBeTruthy();
  });
});

describe("Detail: certctl and watched files", () => {
  it("labels a certctl agent and shows its heartbeat", () => {
    show(status({ kind: "certctl", last_heartbeat: NOW - 20_000 }));
    expect(screen.getByText("certctl agent")).toBeTruthy();
    expect(screen.getByTestId("heartbeat").textContent).toBe("last heartbeat just now");
  });

  it("tells the user to renew a watched file past its renewal point", () => {
    show(status({ state: "due", can_renew: false, renew_at: null, last_result: null, next_action: null }));
    expect(screen.getByText(/Evergreen only watches it: renew it yourself, or add a renew command \(Edit\)/)).toBeTruthy();
    expect(screen.queryByTestId("renew")).toBeNull();
    expect(screen.getByTestId("last-result").textContent).toContain("Never renewed: Evergreen only watches it");
  });
});

describe("Detail: what a certificate is", () => {
  it("names a certificate's facts in its kind's words, with the agent's hold as a time", () => {
    show(
      status({
        kind: "ssh_cert",
        details: {
          subject: "alice@ws",
          issuer: "SHA256:ca",
          serial: "42",
          sha256: "SHA256:key",
          sans: ["alice", "ops"],
          labels: {
            title: "SSH certificate",
            subject: "Key ID",
            names: "Principals",
            issuer: "CA",
            serial: "Serial",
            fingerprint: "Key fingerprint",
            hex: false,
          },
          more: [
            { label: "Extensions", value: "permit-pty" },
            { label: "ssh-agent", value: "holds it until", at: NOW + HOUR },
          ],
        },
      }),
    );
    const panel = screen.getByTestId("certificate");
    expect(panel.querySelector("h3")?.textContent).toBe("SSH certificate");
    const terms = [...panel.querySelectorAll("dt")].map((d) => d.textContent);
    expect(terms.slice(0, 5)).toEqual(["Key ID", "Principals", "CA", "Serial", "Key fingerprint"]);
    expect(terms).toContain("ssh-agent");
    const agent = screen.getByTestId("detail-ssh-agent");
    expect(agent.textContent).toMatch(/^holds it until/);
    expect(agent.querySelector("time")?.getAttribute("datetime")).toBe(new Date(NOW + HOUR).toISOString());
  });

  it("says when renewals end for good, and what happens then", () => {
    show(
      status({
        kind: "vault_token",
        hard_end: { at: NOW + 2 * HOUR, what: "Renewable until", then: "then a new login is needed", needs_you: true },
      }),
    );
    const p = screen.getByTestId("hard-end");
    expect(p.textContent?.replace(/\s+/g, " ").trim()).toMatch(/^Renewable until .+, then a new login is needed\.$/);
    expect(p.querySelector("time")?.getAttribute("datetime")).toBe(new Date(NOW + 2 * HOUR).toISOString());
  });
});

describe("Detail: logging in", () => {
  it("asks for the password (and the user name the config lacks), sends it once and forgets it", async () => {
    vi.mocked(api.login).mockResolvedValue("logged in to https://bao with userpass");
    show(status({ kind: "vault_token", login: { method: "userpass", username: null, browser: false } }));
    const form = screen.getByTestId("login-form");
    const user = form.querySelector<HTMLInputElement>("#login-user")!;
    const pw = form.querySelector<HTMLInputElement>("#login-password")!;
    expect(pw.type).toBe("password");
    await fireEvent.input(user, { target: { value: "alice" } });
    await fireEvent.input(pw, { target: { value: "s3cret" } });
    await fireEvent.submit(form);
    expect(api.login).toHaveBeenCalledWith("web", "alice", "s3cret");
    expect(pw.value).toBe("");
    expect(await screen.findByText("logged in to https://bao with userpass")).toBeTruthy();
  });

  it("logs in in the browser without asking for anything, showing a device login's code while it waits", async () => {
    vi.mocked(api.login).mockClear();
    let shownTo: ((p: { name: string; url: string; code?: string | null }) => void) | undefined;
    vi.mocked(api.onLogin).mockImplementation(async (h) => {
      shownTo = h as never;
      return () => {};
    });
    let finish: (s: string) => void = () => {};
    vi.mocked(api.login).mockImplementation(() => new Promise((r) => (finish = r)));
    show(status({ kind: "oauth", login: { method: "oauth", username: null, browser: true } }));
    const form = screen.getByTestId("login-form");
    expect(form.querySelector("#login-password")).toBeNull();
    await fireEvent.submit(form);
    expect(api.login).toHaveBeenCalledWith("web", null, null);
    shownTo!({ name: "other", url: "https://elsewhere/device", code: "NOPE-NOPE" });
    shownTo!({ name: "web", url: "https://login.example/device?user_code=ABCD-EFGH", code: "ABCD-EFGH" });
    const shown = await screen.findByTestId("login-shown");
    expect(shown.textContent).toMatch(/Enter the code\s+ABCD-EFGH\s+at\s+https:\/\/login\.example\/device/);
    finish("logged in");
    expect(await screen.findByText("logged in")).toBeTruthy();
    expect(screen.queryByTestId("login-shown")).toBeNull();
  });

  it("runs a login program in a terminal, showing what it runs and asking for nothing", async () => {
    vi.mocked(api.login).mockReset();
    vi.mocked(api.login).mockResolvedValue("`aws sso login --sso-session work` runs in a terminal window");
    show(
      status({
        kind: "aws_sso",
        login: { method: "aws sso", username: null, browser: false, command: ["aws", "sso", "login", "--sso-session", "work"] },
      }),
    );
    const form = screen.getByTestId("login-form");
    expect(form.querySelector("#login-password")).toBeNull();
    expect(screen.getByTestId("login-command").textContent).toBe("aws sso login --sso-session work");
    await fireEvent.submit(form);
    expect(api.login).toHaveBeenCalledExactlyOnceWith("web", null, null);
    expect(await screen.findByText(/runs in a terminal window/)).toBeTruthy();
  });

  it("offers no login to a credential that does not ask", () => {
    show(status({ kind: "vault_token" }));
    expect(screen.queryByTestId("login-form")).toBeNull();
  });
});
