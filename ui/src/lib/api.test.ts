import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import * as api from "./api";

const invoke = vi.hoisted(() => vi.fn());
const listen = vi.hoisted(() => vi.fn());
vi.mock("@tauri-apps/api/core", () => ({ invoke }));
vi.mock("@tauri-apps/api/event", () => ({ listen }));

function setUrl(search: string) {
  history.replaceState(null, "", `/${search}`);
}

beforeEach(() => {
  api.resetBackendForTests();
  invoke.mockReset();
  listen.mockReset();
  setUrl("");
});

afterEach(() => {
  delete (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__;
  setUrl("");
});

describe("outside Tauri", () => {
  it("refuses to work without ?preview", async () => {
    await expect(api.snapshot()).rejects.toEqual(api.NOT_IN_TAURI);
    await expect(api.renew("web")).rejects.toMatchObject({ kind: "no_engine" });
    expect(api.previewRequested()).toBe(false);
    expect(invoke).not.toHaveBeenCalled();
  });

  it("runs against the in-memory fake with ?preview", async () => {
    setUrl("?preview");
    expect(api.previewRequested()).toBe(true);
    const snap = await api.snapshot();
    expect(snap.demo).toBe(true);
    expect(snap.credentials.length).toBeGreaterThan(0);
    expect(invoke).not.toHaveBeenCalled();
  });
});

describe("inside Tauri", () => {
  beforeEach(() => {
    (window as unknown as Record<string, unknown>).__TAURI_INTERNALS__ = {};
  });

  it("never uses the fake, even with ?preview", async () => {
    setUrl("?preview");
    expect(api.previewRequested()).toBe(false);
    invoke.mockResolvedValue({ credentials: [], demo: false });
    await api.snapshot();
    expect(invoke).toHaveBeenCalledWith("snapshot", undefined);
  });

  it("passes arguments exactly as the contract names them", async () => {
    invoke.mockResolvedValue(undefined);
    const form = { name: "web", kind: "x509_file" as const, values: { path: "/a" } };
    await api.renew("web");
    await api.renewAllDue();
    await api.history("web");
    await api.logLines("web");
    await api.setPaused("web", true);
    await api.pauseNotifications(60);
    await api.resumeNotifications();
    await api.kinds();
    await api.credentialForm("web");
    await api.saveCredential(null, form);
    await api.deleteCredential("web");
    await api.register("host", "s3cret");
    expect(invoke.mock.calls).toEqual([
      ["renew", { name: "web" }],
      ["renew_all_due", undefined],
      ["history", { name: "web", limit: 200 }],
      ["log_lines", { name: "web" }],
      ["set_paused", { name: "web", paused: true }],
      ["pause_notifications", { minutes: 60 }],
      ["resume_notifications", undefined],
      ["kinds", undefined],
      ["credential_form", { name: "web" }],
      ["save_credential", { original: null, form }],
      ["delete_credential", { name: "web" }],
      ["register", { name: "host", token: "s3cret" }],
    ]);
  });

  it("turns rejections into AppError", async () => {
    invoke.mockRejectedValueOnce({ kind: "refused", message: "no" });
    await expect(api.renew("web")).rejects.toEqual({ kind: "refused", message: "no" });
    invoke.mockRejectedValueOnce("plain string");
    await expect(api.renew("web")).rejects.toEqual({ kind: "internal", message: "plain string" });
  });

  it("listens to the snapshot and navigate events and unwraps payloads", async () => {
    const unlisten = vi.fn();
    listen.mockImplementation(async (_event: string, h: (e: { payload: unknown }) => void) => {
      h({ payload: { name: "web" } });
      return unlisten;
    });
    const seen: unknown[] = [];
    const u = await api.onNavigate((p) => seen.push(p));
    await api.onSnapshot((s) => seen.push(s));
    expect(listen.mock.calls.map((c) => c[0])).toEqual(["evergreen://navigate", "evergreen://snapshot"]);
    expect(seen).toEqual([{ name: "web" }, { name: "web" }]);
    u();
    expect(unlisten).toHaveBeenCalled();
  });
});
