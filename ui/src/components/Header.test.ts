import { beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import type { Snapshot } from "../bindings";
import Header from "./Header.svelte";
import * as api from "../lib/api";
import { NOW } from "../test/fixtures";

vi.mock(import("../lib/api"), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, renewAllDue: vi.fn(), pauseNotifications: vi.fn(), resumeNotifications: vi.fn() };
});

function snap(extra: Partial<Snapshot> = {}): Snapshot {
  return {
    credentials: [],
    now: NOW,
    worst: "attention",
    notifications_paused_until: null,
    demo: false,
    config_path: "/home/me/.config/evergreen/config.toml",
    config_problem: null,
    store_problem: null,
    ...extra,
  };
}

beforeEach(() => {
  vi.mocked(api.renewAllDue).mockReset();
});

describe("Header", () => {
  it("shows the demo banner only in demo mode", () => {
    const { rerender } = render(Header, { props: { snapshot: snap(), now: NOW, onadd: () => {} } });
    expect(screen.queryByTestId("demo-banner")).toBeNull();
    expect(screen.getByTestId("health").textContent).toBe("Needs attention");
    rerender({ snapshot: snap({ demo: true }), now: NOW, onadd: () => {} });
    const banner = screen.getByTestId("demo-banner");
    expect(banner.textContent).toContain("DEMO");
    expect(banner.textContent).toContain("nothing real is touched");
    expect(banner.textContent).toContain("/home/me/.config/evergreen/config.toml");
  });

  it("shows a config problem", () => {
    render(Header, { props: { snapshot: snap({ config_problem: "line 3: bad" }), now: NOW, onadd: () => {} } });
    expect(screen.getByTestId("config-problem").textContent).toContain("line 3: bad");
  });

  it("says when the history is not being saved, and that renewals go on", () => {
    render(Header, {
      props: { snapshot: snap({ store_problem: "history is not being saved: the disk is full" }), now: NOW, onadd: () => {} },
    });
    const banner = screen.getByTestId("store-problem");
    expect(banner.textContent).toContain("the disk is full");
    expect(banner.textContent).toContain("Renewals go on");
  });

  it("renews all due and says what it started", async () => {
    vi.mocked(api.renewAllDue).mockResolvedValue(["a", "b"]);
    const onadd = vi.fn();
    render(Header, { props: { snapshot: snap(), now: NOW, onadd } });
    await fireEvent.click(screen.getByTestId("renew-all"));
    expect(api.renewAllDue).toHaveBeenCalledTimes(1);
    expect((await screen.findByTestId("renew-all-note")).textContent).toBe("Renewing a, b…");
    await fireEvent.click(screen.getByTestId("add-credential"));
    expect(onadd).toHaveBeenCalled();
  });

  it("shows paused notifications with Resume", async () => {
    vi.mocked(api.resumeNotifications).mockResolvedValue(undefined);
    render(Header, {
      props: { snapshot: snap({ notifications_paused_until: NOW + 3 * 3600_000 }), now: NOW, onadd: () => {} },
    });
    expect(screen.getByTestId("notifications-paused").textContent).toContain("Notifications paused until 15:00 (in 3 hours)");
    await fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    expect(api.resumeNotifications).toHaveBeenCalled();
  });

  it("offers to pause notifications when they are on, and forgets a past pause", async () => {
    vi.mocked(api.pauseNotifications).mockResolvedValue(undefined);
    render(Header, {
      props: { snapshot: snap({ notifications_paused_until: NOW - 1000 }), now: NOW, onadd: () => {} },
    });
    expect(screen.queryByTestId("notifications-paused")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Pause notifications" }));
    expect(api.pauseNotifications).toHaveBeenCalledWith(60);
  });
});
