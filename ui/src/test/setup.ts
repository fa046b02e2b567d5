// The tests read times as a British user would (24-hour clock, day before
// month); format.test.ts tries other locales explicitly.
Object.defineProperty(navigator, "language", { value: "en-GB", configurable: true });
Object.defineProperty(navigator, "languages", { value: ["en-GB"], configurable: true });
