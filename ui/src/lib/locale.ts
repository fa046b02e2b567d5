// Runs before anything else (first import of main.ts). Under LANG=C, WebKit
// reports navigator.language as "C", which is not a BCP 47 tag: libraries
// that call `new Intl.NumberFormat(navigator.language)` at load time (uPlot)
// would throw and leave the window blank. Fall back to a valid tag then.

export function usableLanguage(lang: string | undefined): string {
  if (!lang) return "en-US";
  try {
    new Intl.NumberFormat(lang);
    return lang;
  } catch {
    return "en-US";
  }
}

const wanted = usableLanguage(typeof navigator === "undefined" ? undefined : navigator.language);
if (typeof navigator !== "undefined" && navigator.language !== wanted) {
  Object.defineProperty(navigator, "language", { value: wanted, configurable: true });
  Object.defineProperty(navigator, "languages", { value: [wanted], configurable: true });
}
