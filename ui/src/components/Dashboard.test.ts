import { beforeEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import type { CredentialStatus } from "../bindings";
import Dashboard from "./Dashboard.svelte";
import { HOUR, MIN, NOW, snapshot, status } from "../test/fixtures";

const snap = (credentials: CredentialStatus[]) => snapshot({ credentials });

function names(): string[] {
  return screen.getAllByTestId("credential").map((c) => c.dataset.name as string);
}

const many = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    status({ name: `host-${String(i).padStart(2, "0")}`, not_after: NOW + (i + 2) * HOUR }),
  );

beforeEach(() => localStorage.clear());

describe("Dashboard", () => {
  it("puts what needs the user first: failing, expired, due, then the soonest expiry", () => {
    const list = [
      status({ name: "a-fine-later", not_after: NOW + 9 * HOUR }),
      status({ name: "b-due", state: "due" }),
      status({ name: "c-fine-sooner", not_after: NOW + 2 * HOUR }),
      status({ name: "d-failing", state: "failing", streak: 1, next_retry_at: NOW + MIN, offline: false }),
      status({ name: "e-paused", state: "paused", reason: "by you", user_paused: true }),
      status({ name: "f-expired", state: "expired", not_after: NOW - MIN }),
    ];
    render(Dashboard, { props: { snapshot: snap(list), now: NOW, onopen: () => {}, onadd: () => {} } });
    expect(names()).toEqual(["d-failing", "f-expired", "b-due", "c-fine-sooner", "a-fine-later", "e-paused"]);
  });

  it("sorts by name when asked, and remembers the choice", async () => {
    const list = [status({ name: "zeta" }), status({ name: "alpha", state: "failing", streak: 1, next_retry_at: NOW, offline: false })];
    const { unmount } = render(Dashboard, { props: { snapshot: snap(list), now: NOW, onopen: () => {}, onadd: () => {} } });
    expect(names()).toEqual(["alpha", "zeta"]);
    await fireEvent.change(screen.getByTestId("sort"), { target: { value: "name" } });
    expect(names()).toEqual(["alpha", "zeta"]);
    unmount();
    const again = [status({ name: "beta", state: "failing", streak: 1, next_retry_at: NOW, offline: false }), status({ name: "alpha" })];
    render(Dashboard, { props: { snapshot: snap(again), now: NOW, onopen: () => {}, onadd: () => {} } });
    expect(names()).toEqual(["alpha", "beta"]);
  });

  it("shows many credentials as a compact list with a filter box, and cards on request", async () => {
    render(Dashboard, { props: { snapshot: snap(many(16)), now: NOW, onopen: () => {}, onadd: () => {} } });
    const list = screen.getByTestId("list");
    expect(within(list).getAllByTestId("credential")).toHaveLength(16);
    // Every row still has its state in words and its renew button.
    for (const row of within(list).getAllByTestId("credential")) {
      expect(within(row).getByTestId("state").textContent).toBe("Healthy");
      expect(within(row).getByTestId("renew")).toBeTruthy();
    }
    await fireEvent.input(screen.getByTestId("filter"), { target: { value: "host-1" } });
    expect(names()).toEqual(["host-10", "host-11", "host-12", "host-13", "host-14", "host-15"]);
    await fireEvent.input(screen.getByTestId("filter"), { target: { value: "nothing-like-it" } });
    expect(screen.getByTestId("no-match").textContent).toContain("nothing-like-it");
    await fireEvent.input(screen.getByTestId("filter"), { target: { value: "" } });
    await fireEvent.click(screen.getByTestId("view-cards"));
    expect(screen.queryByTestId("list")).toBeNull();
    expect(screen.getAllByTestId("credential")).toHaveLength(16);
    expect(JSON.parse(localStorage.getItem("evergreen.dashboard") as string).view).toBe("cards");
  });

  it("keeps a few credentials as cards without a filter box", () => {
    render(Dashboard, { props: { snapshot: snap(many(5)), now: NOW, onopen: () => {}, onadd: () => {} } });
    expect(screen.queryByTestId("list")).toBeNull();
    expect(screen.queryByTestId("filter")).toBeNull();
    expect(screen.getAllByTestId("credential")).toHaveLength(5);
  });

  it("makes Renew now loud only where renewing helps now", () => {
    const list = [
      status({ name: "fine" }),
      status({ name: "due", state: "due" }),
      status({ name: "failing", state: "failing", streak: 2, next_retry_at: NOW + MIN, offline: false }),
      status({ name: "offline", state: "failing", streak: 2, next_retry_at: NOW + MIN, offline: true }),
    ];
    render(Dashboard, { props: { snapshot: snap(list), now: NOW, onopen: () => {}, onadd: () => {} } });
    const loud = (n: string) => {
      const card = screen.getAllByTestId("credential").find((c) => c.dataset.name === n) as HTMLElement;
      return within(card).getByTestId("renew").classList.contains("primary");
    };
    expect([loud("fine"), loud("due"), loud("failing"), loud("offline")]).toEqual([false, true, true, false]);
  });

  it("tells each state by a shape as well as a colour", () => {
    const list = [
      status({ name: "a", state: "healthy" }),
      status({ name: "b", state: "due" }),
      status({ name: "c", state: "failing", streak: 1, next_retry_at: NOW, offline: false }),
      status({ name: "d", state: "paused", reason: "x", user_paused: true }),
      status({ name: "e", state: "disabled" }),
    ];
    render(Dashboard, { props: { snapshot: snap(list), now: NOW, onopen: () => {}, onadd: () => {} } });
    const shapes = screen.getAllByTestId("state").map((b) => b.querySelector("svg")?.innerHTML ?? "");
    expect(new Set(shapes).size).toBe(5);
  });
});
