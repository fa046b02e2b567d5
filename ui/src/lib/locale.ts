// Runs before anything else (first import of main.ts). Under LANG=C, WebKit
// reports navigator.language as "C", which is not a BCP 47 tag: libraries
// that call `new Intl.NumberFormat(navigator.language)` at load time (uPlot)
// would throw and leave the window blank. Fall back to a valid tag then.

const FALLBACK = "en-US";

/**
 * A language tag Intl accepts: `lang` itself when valid, a POSIX locale name
 * turned into a tag ("de_DE.UTF-8" → "de-DE"), or "en-US" ("C", "POSIX", none).
 */
export function usableLanguage(lang: string | undefined | null): string {
  if (!lang) return FALLBACK;
  const posix = lang.replace(/[.@].*$/, "").replace(/_/g, "-");
  for (const tag of [lang, posix]) {
    if (!tag || /^(c|posix)$/i.test(tag)) continue;
    try {
      new Intl.NumberFormat(tag);
      new Intl.DateTimeFormat(tag);
      return tag;
    } catch {
      // not a tag Intl takes: try the next form
    }
  }
  return FALLBACK;
}

/** Replaces an unusable navigator.language (and languages) in place. */
export function fixNavigatorLanguage(nav: Navigator | undefined = typeof navigator === "undefined" ? undefined : navigator): void {
  if (!nav) return;
  const wanted = usableLanguage(nav.language);
  if (nav.language !== wanted) {
    Object.defineProperty(nav, "language", { value: wanted, configurable: true });
    Object.defineProperty(nav, "languages", { value: [wanted], configurable: true });
  }
}

fixNavigatorLanguage();
