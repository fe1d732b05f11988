import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen } from '@testing-library/svelte';
import jsQR from 'jsqr';
import { QUIET, qrMatrix, qrPath } from './qr';
import QrDialog from './QrDialog.svelte';

/** Draws the matrix at `px` pixels per module, with the quiet zone, as RGBA for jsQR. */
function image(m: boolean[][], px = 4): { data: Uint8ClampedArray; size: number } {
  const size = (m.length + 2 * QUIET) * px;
  const data = new Uint8ClampedArray(size * size * 4).fill(255);
  m.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (!dark) return;
      for (let y = 0; y < px; y++)
        for (let x = 0; x < px; x++) {
          const i = (((r + QUIET) * px + y) * size + (c + QUIET) * px + x) * 4;
          data[i] = data[i + 1] = data[i + 2] = 0;
        }
    }),
  );
  return { data, size };
}

const LINKS = [
  'https://signal.parley.example/r/AAAAAAAAAAAAAAAAAAAAA#BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB',
  'http://192.168.1.20:8787/r/x_-9aZx_-9aZx_-9aZx_-#s3cret_-s3cret_-s3cret_-s3cret_-s3cret_-s3c',
  'parley://chat.example.org:8443/r/Zz0Zz0Zz0Zz0Zz0Zz0Zz0#secretsecretsecretsecretsecretsecretsecret',
];

describe('room link QR code', () => {
  it.each(LINKS)('decodes back to %s', (link) => {
    const m = qrMatrix(link);
    expect(m.length).toBeGreaterThanOrEqual(21);
    expect((m.length - 17) % 4).toBe(0); // a QR version's size
    const { data, size } = image(m);
    expect(jsQR(data, size, size)?.data).toBe(link);
  });

  it('the path has one unit square per dark module', () => {
    const m = qrMatrix(LINKS[0]!);
    const dark = m.flat().filter(Boolean).length;
    expect(qrPath(m).match(/h1v1h-1z/g)).toHaveLength(dark);
    expect(qrPath(m).startsWith(`M${QUIET}`)).toBe(true); // the top-left finder
  });

  it('the dialog draws the code and closes on Done and Esc', async () => {
    const onclose = vi.fn();
    render(QrDialog, { link: LINKS[0]!, onclose });
    const svg = screen.getByTestId('room-qr');
    expect(svg.getAttribute('data-modules')).toBe(String(qrMatrix(LINKS[0]!).length));
    expect(svg.querySelector('path')!.getAttribute('d')).toBe(qrPath(qrMatrix(LINKS[0]!)));
    expect(document.body.textContent).not.toContain('#BBBB'); // the secret is not printed
    await fireEvent.click(screen.getByRole('button', { name: 'Done' }));
    await fireEvent.keyDown(screen.getByRole('dialog'), { key: 'Escape' });
    expect(onclose).toHaveBeenCalledTimes(2);
  });
});
