// Every state the engine can publish, rendered as the window renders it, in
// the light theme and the dark one: the card shows the engine's own words
// (its `state_label`, the same field the tray's menu and `evergreen status`
// print) and exactly the actions the engine offers, and nothing of its own.
import { afterEach, describe, expect, it, vi } from "vitest";
import { render, screen, within } from "@testing-library/svelte";
import { STATUS_SAMPLES, type CredentialStatus } from "../bindings";
import CredentialCard from "./CredentialCard.svelte";

function theme(dark: boolean) {
  vi.stubGlobal(
    "matchMedia",
    (query: string) =>
      ({
        matches: dark && query.includes("prefers-color-scheme: dark"),
        media: query,
        addEventListener: () => {},
        removeEventListener: () => {},
        addListener: () => {},
        removeListener: () => {},
        onchange: null,
        dispatchEvent: () => false,
      }) as MediaQueryList,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
});

const capital = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** What the card shows of a state: its word, its shape, the buttons it offers. */
function shown(s: CredentialStatus) {
  const card = screen.getByTestId("credential");
  const badge = within(card).getByTestId("state");
  return {
    word: badge.textContent?.trim(),
    shape: badge.getAttribute("data-shape"),
    renew: within(card).queryByTestId("renew") !== null,
    buttons: within(card)
      .queryAllByRole("button")
      .map((b) => b.textContent?.trim())
      .filter((t) => t !== s.name),
  };
}

describe.each([
  ["light", false],
  ["dark", true],
])("every state, %s theme", (_name, dark) => {
  it.each(
    STATUS_SAMPLES.map(
      (s) => [s.state_label + (s.user_paused ? " (by the user)" : "") + (s.can_renew ? "" : " (watched only)"), s] as const,
    ),
  )(
    "%s",
    (_label, sample) => {
      theme(dark);
      render(CredentialCard, { status: sample, now: sample.updated_at, onopen: () => {} });
      const got = shown(sample);
      expect(got.word).toBe(capital(sample.state_label));
      expect(got.renew).toBe(sample.offers.renew);
      expect(got.buttons.includes("Resume")).toBe(sample.offers.pause === "resume");
      expect(got.buttons.includes("Re-register…")).toBe(sample.offers.reregister !== null);
      expect(got).toMatchSnapshot();
    },
  );
});
