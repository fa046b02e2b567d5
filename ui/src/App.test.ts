import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import type { Snapshot } from "./bindings";
import App from "./App.svelte";
import * as api from "./lib/api";
import { NOW, snapshot, status } from "./test/fixtures";

vi.mock(import("./lib/api"), async (importOriginal) => {
  const real = await importOriginal();
  return {
    ...real,
    snapshot: vi.fn(),
    onSnapshot: vi.fn(),
    onNavigate: vi.fn(),
    history: vi.fn(),
    logLines: vi.fn(),
    discover: vi.fn(),
    addFound: vi.fn(),
    kinds: vi.fn(),
    previewRequested: () => false,
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

const snap = snapshot;

let pushSnapshot: (s: Snapshot) => void;
let navigate: (p: { name: string | null }) => void;

beforeEach(() => {
  vi.clearAllMocks();
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  vi.setSystemTime(NOW);
  vi.mocked(api.snapshot).mockResolvedValue(snap());
  vi.mocked(api.onSnapshot).mockImplementation(async (h) => {
    pushSnapshot = h;
    return () => {};
  });
  vi.mocked(api.onNavigate).mockImplementation(async (h) => {
    navigate = h;
    return () => {};
  });
  vi.mocked(api.history).mockResolvedValue([]);
  vi.mocked(api.logLines).mockResolvedValue([]);
  vi.mocked(api.kinds).mockResolvedValue([]);
  vi.mocked(api.discover).mockResolvedValue([]);
});

afterEach(() => {
  vi.useRealTimers();
});

async function flush() {
  for (let i = 0; i < 5; i++) {
    await Promise.resolve();
    await tick();
  }
}

describe("App", () => {
  it("shows the snapshot, follows pushed snapshots and never polls", async () => {
    render(App);
    const card = await screen.findByTestId("credential");
    expect(card.dataset.state).toBe("healthy");
    expect(screen.getByTestId("fraction").textContent).toBe("63 %");
    expect(screen.queryByTestId("demo-banner")).toBeNull();

    // The local 1 s timer moves bars and relative times; the backend is not asked again.
    await vi.advanceTimersByTimeAsync(33 * 60_000);
    await flush();
    expect(screen.getByTestId("fraction").textContent).toBe("30 %");
    expect(api.snapshot).toHaveBeenCalledTimes(1);

    pushSnapshot(
      snap({
        now: NOW + 34 * 60_000,
        demo: true,
        credentials: [status({ state: "failing", streak: 1, next_retry_at: NOW + 40 * 60_000, offline: false })],
      }),
    );
    await flush();
    expect(screen.getByTestId("credential").dataset.state).toBe("failing");
    expect(screen.getByTestId("demo-banner").textContent).toContain("nothing real is touched");
  });

  it("uses the engine clock from the snapshot, not the local one", async () => {
    vi.mocked(api.snapshot).mockResolvedValue(snap({ now: NOW + 33 * 60_000 }));
    render(App);
    await screen.findByTestId("credential");
    expect(screen.getByTestId("fraction").textContent).toBe("30 %");
  });

  it("opens the detail on a navigate event and re-fetches history when the credential changed", async () => {
    render(App);
    await screen.findByTestId("credential");
    navigate({ name: "web" });
    expect(await screen.findByTestId("detail")).toBeTruthy();
    await flush();
    expect(api.history).toHaveBeenCalledTimes(1);
    expect(api.history).toHaveBeenCalledWith("web", 200);
    expect(api.logLines).toHaveBeenCalledWith("web");

    // Same updated_at: nothing to fetch.
    pushSnapshot(snap({ now: NOW + 1000 }));
    await flush();
    expect(api.history).toHaveBeenCalledTimes(1);

    pushSnapshot(snap({ now: NOW + 2000, credentials: [status({ updated_at: NOW + 1500 })] }));
    await flush();
    expect(api.history).toHaveBeenCalledTimes(2);

    navigate({ name: null });
    await flush();
    expect(screen.queryByTestId("detail")).toBeNull();
    expect(screen.getByTestId("credential")).toBeTruthy();
  });

  it("says so when it is not inside the app", async () => {
    vi.mocked(api.snapshot).mockRejectedValue(api.NOT_IN_TAURI);
    render(App);
    expect((await screen.findByRole("alert")).textContent).toContain("only works inside the Evergreen app");
  });

  it("opens on what was found on this machine when it runs the demo, and adds only what is picked", async () => {
    const found = (name: string, kind: string, expires_at: number | null) => ({
      name,
      kind,
      place: `~/.kube/${name}`,
      what: `user ${name}`,
      expires_at,
      renews: false,
      note: null,
      values: { user: name },
      configured_as: null,
    });
    vi.mocked(api.snapshot).mockResolvedValue(snap({ demo: true }));
    vi.mocked(api.discover).mockResolvedValue([
      found("kube-admin", "kubeconfig", NOW + 86_400_000),
      found("vault-token", "vault_token", null),
    ]);
    vi.mocked(api.addFound).mockResolvedValue([{ ok: true, problems: [] }]);
    render(App);
    const items = await screen.findAllByTestId("found-item");
    expect(items.map((i) => i.dataset.name)).toEqual(["kube-admin", "vault-token"]);
    expect(screen.queryByTestId("credential")).toBeNull();
    expect(api.addFound).not.toHaveBeenCalled();

    const add = items[0].querySelector<HTMLButtonElement>("[data-testid=found-add]")!;
    add.click();
    await flush();
    expect(api.addFound).toHaveBeenCalledExactlyOnceWith(["kube-admin"]);
    expect(add.textContent?.trim()).toBe("Added");
    expect(add.disabled).toBe(true);

    // The demo is one click away.
    screen.getByTestId("found-close").click();
    await flush();
    expect(screen.queryByTestId("found")).toBeNull();
    expect(screen.getByTestId("credential")).toBeTruthy();
  });

  it("does not open on the finder once the window shows real credentials", async () => {
    render(App);
    await screen.findByTestId("credential");
    pushSnapshot(snap({ now: NOW + 1000, demo: true }));
    await flush();
    expect(screen.queryByTestId("found")).toBeNull();
    expect(api.discover).not.toHaveBeenCalled();
    screen.getByTestId("find").click();
    await flush();
    expect(screen.getByTestId("found")).toBeTruthy();
    expect(api.discover).toHaveBeenCalledTimes(1);
    // Asked for, an empty list says so instead of going away.
    expect((await screen.findByTestId("found-none")).textContent).toContain("Nothing that expires");
  });

  it("goes on to the demo when the first run finds nothing", async () => {
    vi.mocked(api.snapshot).mockResolvedValue(snap({ demo: true }));
    render(App);
    await flush();
    expect(api.discover).toHaveBeenCalledTimes(1);
    expect(await screen.findByTestId("credential")).toBeTruthy();
    expect(screen.queryByTestId("found")).toBeNull();
  });
});
