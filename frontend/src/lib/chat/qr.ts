// The room link as a QR code (qrcode-generator, npm, MIT), for reading it
// with a phone's camera. The code is drawn from the module matrix as one
// SVG path: no HTML or image from the library reaches the page.

import qrcode from 'qrcode-generator';

/** Quiet zone around the code, in modules (the standard asks for 4). */
export const QUIET = 4;

/** The dark modules of text's QR code (error correction M, smallest version that fits). */
export function qrMatrix(text: string): boolean[][] {
  const qr = qrcode(0, 'M');
  qr.addData(text, 'Byte');
  qr.make();
  const n = qr.getModuleCount();
  return Array.from({ length: n }, (_, r) => Array.from({ length: n }, (_, c) => qr.isDark(r, c)));
}

/** An SVG path of the dark modules, one unit square each, offset by the quiet zone. */
export function qrPath(m: boolean[][]): string {
  const parts: string[] = [];
  m.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (dark) parts.push(`M${c + QUIET} ${r + QUIET}h1v1h-1z`);
    }),
  );
  return parts.join('');
}
