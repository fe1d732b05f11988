// What every modal does with the keyboard and focus: Esc closes, Tab and
// Shift+Tab stay inside, and focus goes back to where it was on close.

const FOCUSABLE =
  'button:not([disabled]), [href], input:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

/** The elements Tab reaches inside box, in order. */
export function focusables(box: HTMLElement): HTMLElement[] {
  return Array.from(box.querySelectorAll<HTMLElement>(FOCUSABLE));
}

/** A keydown handler for a modal: Esc calls onclose, Tab wraps inside box. */
export function modalKeydown(box: () => HTMLElement, onclose: () => void): (e: KeyboardEvent) => void {
  return (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      onclose();
      return;
    }
    if (e.key !== 'Tab') return;
    const f = focusables(box());
    const first = f[0];
    const last = f[f.length - 1];
    if (!first || !last) return;
    if (e.shiftKey && document.activeElement === first) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && document.activeElement === last) {
      e.preventDefault();
      first.focus();
    }
  };
}

/** Remembers what has focus now; the returned function gives it back (on unmount). */
export function keepFocusToRestore(): () => void {
  const before = document.activeElement as HTMLElement | null;
  return () => {
    if (before && document.contains(before)) before.focus();
  };
}
