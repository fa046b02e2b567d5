import { afterEach, describe, expect, it, vi } from "vitest";
import { fixNavigatorLanguage, usableLanguage } from "./locale";
import mainSource from "../main.ts?raw";

describe("usableLanguage", () => {
  it("keeps a valid tag", () => {
    expect(usableLanguage("de-DE")).toBe("de-DE");
    expect(usableLanguage("en")).toBe("en");
  });
  it("replaces what LANG=C gives the webview, or nothing", () => {
    expect(usableLanguage("C")).toBe("en-US");
    expect(usableLanguage("C.UTF-8")).toBe("en-US");
    expect(usableLanguage("POSIX")).toBe("en-US");
    expect(usableLanguage(undefined)).toBe("en-US");
    expect(usableLanguage(null)).toBe("en-US");
    expect(usableLanguage("")).toBe("en-US");
  });
  it("turns a POSIX locale name into a tag", () => {
    expect(usableLanguage("de_DE.UTF-8")).toBe("de-DE");
    expect(usableLanguage("sr_RS@latin")).toBe("sr-RS");
    expect(usableLanguage("!!")).toBe("en-US");
  });
});

describe("fixNavigatorLanguage", () => {
  afterEach(() => {
    // Back to jsdom's own getter on Navigator.prototype.
    delete (navigator as unknown as Record<string, unknown>).language;
    delete (navigator as unknown as Record<string, unknown>).languages;
  });

  it("makes navigator.language usable before uPlot reads it", () => {
    Object.defineProperty(navigator, "language", { value: "C", configurable: true });
    expect(() => new Intl.NumberFormat(navigator.language)).toThrow(RangeError);
    fixNavigatorLanguage();
    expect(navigator.language).toBe("en-US");
    expect(navigator.languages).toEqual(["en-US"]);
    expect(() => new Intl.NumberFormat(navigator.language)).not.toThrow();
  });

  it("leaves a good language alone", () => {
    Object.defineProperty(navigator, "language", { value: "fr-CH", configurable: true });
    const spy = vi.spyOn(Object, "defineProperty");
    fixNavigatorLanguage();
    expect(spy).not.toHaveBeenCalled();
    expect(navigator.language).toBe("fr-CH");
  });

  it("is the first import of main.ts", () => {
    const imports = mainSource.split("\n").filter((l) => /^\s*import\b/.test(l));
    expect(imports[0]).toMatch(/^import "\.\/lib\/locale(\.ts)?";$/);
  });
});
