import { describe, expect, it } from "vitest";
import { usableLanguage } from "./locale";

describe("usableLanguage", () => {
  it("keeps a valid tag", () => {
    expect(usableLanguage("de-DE")).toBe("de-DE");
  });
  it("replaces what LANG=C gives the webview, or nothing", () => {
    expect(usableLanguage("C")).toBe("en-US");
    expect(usableLanguage(undefined)).toBe("en-US");
    expect(usableLanguage("")).toBe("en-US");
  });
});
