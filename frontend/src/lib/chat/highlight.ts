// Syntax highlighting of fenced code blocks with lowlight (highlight.js
// grammars, output as a tree, not HTML). Only a block that names one of
// the languages below is highlighted, and only up to MAX_HIGHLIGHT
// characters: no guessing of the language, no unbounded work on a peer's
// text. The tree holds the peer's text as strings and highlight.js's own
// class names, checked again here; the UI renders it as text nodes.

import { createLowlight } from 'lowlight';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

/** Longer code is shown plain. */
export const MAX_HIGHLIGHT = 20_000;

/** A piece of code: text, or a highlighted span (class names) around pieces. */
export type Token = string | { cls: string; children: Token[] };

const lowlight = createLowlight({ bash, c, cpp, css, diff, go, java, javascript, json, python, rust, sql, typescript, xml, yaml });
lowlight.registerAlias({ bash: ['sh', 'shell', 'zsh'], javascript: ['js', 'jsx'], typescript: ['ts', 'tsx'], xml: ['html', 'svg'], python: ['py'], rust: ['rs'], yaml: ['yml'] });

const CLASS = /^hljs-[a-z_]+$/;

/** The tokens of code in lang; one plain string when lang is not known or the code is long. */
export function highlight(code: string, lang: string): Token[] {
  if (!lang || code.length > MAX_HIGHLIGHT || !lowlight.registered(lang)) return [code];
  try {
    return lowlight.highlight(lang, code).children.map((n) => token(n as Node));
  } catch {
    return [code];
  }
}

/** The parts of lowlight's tree (hast) that tokens are made of. */
type Node =
  | { type: 'text'; value: string }
  | { type: 'element'; properties?: { className?: unknown }; children: Node[] }
  | { type: 'comment' | 'doctype' };

function token(n: Node): Token {
  if (n.type === 'text') return n.value;
  if (n.type !== 'element') return '';
  const names = n.properties?.className;
  const cls = (Array.isArray(names) ? names : [])
    .map(String)
    .filter((x) => CLASS.test(x))
    .join(' ');
  return { cls, children: n.children.map(token) };
}

/** The languages a code block can name (for tests and docs). */
export function languages(): string[] {
  return lowlight.listLanguages();
}
