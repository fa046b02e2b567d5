import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import { tick } from "svelte";
import type { RenewOutcome } from "../bindings";
import CredentialCard from "./CredentialCard.svelte";
import * as api from "../lib/api";
import { resetRenewals } from "../lib/renewals.svelte";
import { HOUR, MIN, NOW, status } from "../test/fixtures";

vi.mock(import("../lib/api"), async (importOriginal) => {
  const real = await importOriginal();
  return { ...real, renew: vi.fn(), setPaused: vi.fn() };
});

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function card() {
  return screen.getByTestId("credential");
}

beforeEach(() => {
  resetRenewals();
  vi.mocked(api.renew).mockReset();
});

afterEach(() => {
  vi.useRealTimers();
});

describe("CredentialCard", () => {
  it("renders the test hooks, state in words and the fraction", () => {
    const onopen = vi.fn();
    render(CredentialCard, { props: { status: status(), now: NOW, onopen } });
    const c = card();
    expect(c.dataset.name).toBe("web");
    expect(c.dataset.state).toBe("healthy");
    expect(within(c).getByTestId("state").textContent).toBe("Healthy");
    expect(within(c).getByTestId("fraction").textContent).toBe("63 %");
    expect(within(c).getByText("X.509 file")).toBeTruthy();
    expect(within(c).getByTestId("last-result").textContent).toBe("Renewed 37 minutes ago");
    expect(within(c).getByText(/expires in 1 hour/)).toBeTruthy();
    expect(within(c).getByText(/renews at 12:30:00 \(in 30 minutes\)/)).toBeTruthy();

    const bar = within(c).getByRole("progressbar");
    expect(bar.getAttribute("aria-valuenow")).toBe("63");
    expect(bar.getAttribute("aria-valuemin")).toBe("0");
    expect(bar.getAttribute("aria-valuemax")).toBe("100");
    expect(bar.getAttribute("aria-label")).toBe("Remaining validity of web");

    const open = within(c).getByTestId("open");
    expect(open.tagName).toBe("BUTTON");
    fireEvent.click(open);
    expect(onopen).toHaveBeenCalledWith("web");
  });

  it("recomputes the fraction from the clock", () => {
    render(CredentialCard, { props: { status: status(), now: NOW + 33 * MIN, onopen: () => {} } });
    expect(screen.getByTestId("fraction").textContent).toBe("30 %");
  });

  it("shows a failure and the retry", () => {
    render(CredentialCard, {
      props: {
        status: status({
          state: "failing",
          streak: 3,
          next_retry_at: NOW + 4 * MIN,
          next_action: { at: NOW + 4 * MIN, what: "retry_renewal" },
          last_result: { at: NOW - MIN, ok: false, message: "permission denied", duration_ms: 5 },
        }),
        now: NOW,
        onopen: () => {},
      },
    });
    expect(card().dataset.state).toBe("failing");
    expect(screen.getByTestId("state").textContent).toBe("Failing (3 in a row)");
    expect(screen.getByTestId("last-result").textContent).toBe("Failed 1 minute ago: permission denied");
    expect(screen.getByText(/retry at 12:04:00/)).toBeTruthy();
    expect(screen.getByTestId("renew")).toBeTruthy();
  });

  it("Renew now shows progress, cannot double-fire, then shows the result", async () => {
    const d = deferred<RenewOutcome>();
    vi.mocked(api.renew).mockReturnValue(d.promise);
    render(CredentialCard, { props: { status: status(), now: NOW, onopen: () => {} } });
    const button = screen.getByTestId("renew") as HTMLButtonElement;
    expect(button.textContent).toContain("Renew now");
    expect(button.disabled).toBe(false);

    // Two clicks before the DOM even updates, then one more after.
    button.click();
    button.click();
    await tick();
    expect(button.disabled).toBe(true);
    expect(button.textContent).toContain("Renewing…");
    await fireEvent.click(button);
    expect(api.renew).toHaveBeenCalledTimes(1);
    expect(api.renew).toHaveBeenCalledWith("web");

    d.resolve({ credential: "web", ok: true, message: "valid until 13:00", not_after: NOW + HOUR, duration_ms: 300, recorded_at: NOW });
    // The engine's words belong to the last-result line; the button's side only marks the outcome.
    await vi.waitFor(() => expect(screen.getByTestId("renew-result").textContent).toBe("✓ Renewed"));
    expect(button.disabled).toBe(false);
    expect(button.textContent).toContain("Renew now");
  });

  it("shows a failed renewal inline, also when the call rejects", async () => {
    vi.mocked(api.renew).mockRejectedValueOnce({ kind: "refused", message: "server said no" });
    render(CredentialCard, { props: { status: status(), now: NOW, onopen: () => {} } });
    await fireEvent.click(screen.getByTestId("renew"));
    await vi.waitFor(() => expect(screen.getByTestId("renew-result").textContent).toContain("Not renewed: server said no"));
    expect((screen.getByTestId("renew") as HTMLButtonElement).disabled).toBe(false);

    vi.mocked(api.renew).mockResolvedValueOnce({
      credential: "web",
      ok: false,
      message: "CA unreachable",
      not_after: null,
      duration_ms: 9,
      recorded_at: NOW,
    });
    await fireEvent.click(screen.getByTestId("renew"));
    await vi.waitFor(() => expect(screen.getByTestId("renew-result").textContent).toBe("✗ Failed"));
  });

  it("drops the mark beside Renew now once a later result comes", async () => {
    vi.mocked(api.renew).mockResolvedValueOnce({
      credential: "web",
      ok: false,
      message: "CA unreachable",
      not_after: null,
      duration_ms: 9,
      recorded_at: NOW,
    });
    const failed = { at: NOW, ok: false, message: "CA unreachable", duration_ms: 9 };
    const { rerender } = render(CredentialCard, {
      props: { status: status({ last_result: failed }), now: NOW, onopen: () => {} },
    });
    await fireEvent.click(screen.getByTestId("renew"));
    await vi.waitFor(() => expect(screen.getByTestId("renew-result").textContent).toBe("✗ Failed"));
    // The engine renews it on its own a minute later: no stale "Failed" beside "Healthy".
    const later = { at: NOW + MIN, ok: true, message: "renewed", duration_ms: 9 };
    await rerender({ status: status({ last_result: later }), now: NOW + MIN, onopen: () => {} });
    expect(screen.queryByTestId("renew-result")).toBeNull();
    expect(screen.getByTestId("last-result").textContent).toBe("Renewed just now");
  });

  it("shows an engine-started renewal as in progress", () => {
    render(CredentialCard, { props: { status: status({ state: "renewing" }), now: NOW, onopen: () => {} } });
    const button = screen.getByTestId("renew") as HTMLButtonElement;
    expect(button.disabled).toBe(true);
    expect(button.textContent).toContain("Renewing…");
  });

  it.each([
    ["retired", { state: "retired", reason: "host deleted", can_renew: true }, /register it again/],
    ["disabled", { state: "disabled" }, /Disabled in the configuration/],
    ["not_renewable", { state: "not_renewable" }, /only a new login helps/],
    ["final", { state: "final", expires_at: NOW + HOUR, can_renew: true }, /only a new login helps/],
    ["cannot renew", { can_renew: false }, null],
  ] as const)("offers no Renew now when %s", (_label, extra, hint) => {
    render(CredentialCard, { props: { status: status(extra as never), now: NOW, onopen: () => {} } });
    expect(screen.queryByTestId("renew")).toBeNull();
    if (hint) expect(screen.getByText(hint)).toBeTruthy();
  });

  it("offers Resume, and only Resume, when the user paused it", async () => {
    vi.mocked(api.setPaused).mockResolvedValue(undefined);
    render(CredentialCard, {
      props: {
        status: status({
          kind: "wrenn",
          state: "paused",
          reason: "paused by you; resume it to renew it again",
          user_paused: true,
          last_heartbeat: NOW - 20_000,
          next_action: null,
        }),
        now: NOW,
        onopen: () => {},
      },
    });
    expect(card().dataset.state).toBe("paused");
    expect(screen.getByText("last heartbeat just now")).toBeTruthy();
    expect(screen.getByText("Paused by you: Evergreen does not renew it until you resume it.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Re-register…" })).toBeNull();
    expect(screen.queryByTestId("renew")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Resume" }));
    expect(api.setPaused).toHaveBeenCalledWith("web", false);
  });

  it("shows the reason and Re-register, but no Resume, for a wrenn host the engine paused", async () => {
    const onopen = vi.fn();
    render(CredentialCard, {
      props: {
        status: status({
          kind: "wrenn",
          state: "paused",
          // Sounds like the user's words: only user_paused counts.
          reason: "paused by you; resume it to renew it again",
          user_paused: false,
          can_renew: true,
          next_action: null,
        }),
        now: NOW,
        onopen,
      },
    });
    expect(screen.getByText(/^Paused: paused by you; resume it to renew it again\. Re-register/)).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Resume" })).toBeNull();
    expect(screen.queryByTestId("resume")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Re-register…" }));
    expect(onopen).toHaveBeenCalledWith("web");
  });

  it("shows a certctl agent with its label and heartbeat", () => {
    render(CredentialCard, {
      props: { status: status({ kind: "certctl", last_heartbeat: NOW - 20_000 }), now: NOW, onopen: () => {} },
    });
    expect(screen.getByText("certctl agent")).toBeTruthy();
    expect(screen.getByTestId("heartbeat").textContent).toBe("last heartbeat just now");
  });

  it("does not promise a renewal for a watched file past its renewal point", () => {
    render(CredentialCard, {
      props: {
        status: status({
          state: "due",
          can_renew: false,
          renew_at: null,
          last_result: null,
          next_action: { at: NOW + 63 * MIN, what: "expires_unless_renewed_by_hand" },
        }),
        now: NOW,
        onopen: () => {},
      },
    });
    expect(screen.queryByTestId("renew")).toBeNull();
    expect(
      screen.getByText(
        "Past its renewal point, and Evergreen only watches it: renew it yourself, or add a renew command (Edit).",
      ),
    ).toBeTruthy();
    expect(card().textContent).not.toMatch(/renews it shortly|not renewed yet/);
  });
});
