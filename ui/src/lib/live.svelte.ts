// One polite live region for the whole app (rendered by App.svelte): renewal
// results and other outcomes are announced to screen readers through it.

export const live = $state({ message: "", seq: 0 });

export function announce(message: string): void {
  // Clear first so that the same text twice in a row is announced again.
  live.message = "";
  live.seq++;
  const seq = live.seq;
  setTimeout(() => {
    if (live.seq === seq) {
      live.message = message;
    }
  }, 50);
}
