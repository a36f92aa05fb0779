// The layout of web/assets/, read from the files (no server, no browser): pages/ holds the pages'
// scripts, lib/ the shared modules, i18n/ the word tables. Only lib/endpoints.js writes an API
// path; every asset is reached from a page (its <script>, <link> or an import, static or
// dynamic, or a CSS url()), and every reference names a file that exists (words.js excepted:
// the server makes it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WEB = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../web');
const ASSETS = path.join(WEB, 'assets');
const ENDPOINTS = 'lib/endpoints.js';
/** Served by the server from its own tables (src/web/words.rs), not a file in web/. */
const MADE_BY_THE_SERVER = new Set(['words.js']);
const ORIGIN = 'http://madoguchi.invalid';

/** Every file under web/assets/, as a path relative to it ('lib/api.js'). */
function assetFiles(dir = ASSETS) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? assetFiles(full) : [path.relative(ASSETS, full).split(path.sep).join('/')];
  });
}

const pages = fs.readdirSync(WEB).filter((f) => f.endsWith('.html'));
const assets = assetFiles();

/** The URLs a file refers to: src and href of a page, imports of a module, url() of a sheet. */
function references(text, kind) {
  const patterns = {
    html: [/\b(?:src|href)="([^"]+)"/g],
    js: [/^\s*(?:import|export)\b[^;'"`]*?\bfrom\s+['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g],
    css: [/\burl\(\s*['"]?([^'")]+)['"]?\s*\)/g],
  }[kind] || [];
  return patterns.flatMap((re) => [...text.matchAll(re)].map((m) => m[1]));
}

/** The asset (path under web/assets/) a reference names, or null for anything else. */
function assetOf(ref, baseUrl) {
  if (/^(data|blob|tel|mailto):/.test(ref) || ref.startsWith('#')) return null;
  const url = new URL(ref, baseUrl);
  if (url.origin !== ORIGIN || !url.pathname.startsWith('/assets/')) return null;
  return decodeURIComponent(url.pathname.slice('/assets/'.length));
}

const kindOf = (file) => (file.endsWith('.js') ? 'js' : file.endsWith('.css') ? 'css' : file.endsWith('.html') ? 'html' : null);

test('no file of the pages writes an API path but lib/endpoints.js', () => {
  const offenders = [];
  const check = (name, text) => {
    text.split('\n').forEach((line, i) => {
      if (line.includes('/api/')) offenders.push(`${name}:${i + 1}: ${line.trim()}`);
    });
  };
  for (const p of pages) check(p, fs.readFileSync(path.join(WEB, p), 'utf8'));
  for (const a of assets) if (a !== ENDPOINTS && kindOf(a)) check(`assets/${a}`, fs.readFileSync(path.join(ASSETS, a), 'utf8'));
  assert.deepEqual(offenders, [], `build API paths with ${ENDPOINTS}`);
  assert.match(fs.readFileSync(path.join(ASSETS, ENDPOINTS), 'utf8'), /\/api\/v1/);
});

test('every script of web/assets/ is in pages/, lib/ or i18n/', () => {
  const misplaced = assets.filter((a) => a.endsWith('.js') && !/^(pages|lib|i18n)\/[^/]+$/.test(a));
  assert.deepEqual(misplaced, [], 'scripts go in pages/, lib/ or i18n/ (styles and the icon stay at the top)');
});

test('every asset is reached from a page, and every reference names an existing file', () => {
  const reached = new Set();
  const missing = [];
  const upward = [];
  const queue = [];
  const visit = (from, ref, baseUrl) => {
    const a = assetOf(ref, baseUrl);
    if (a === null || MADE_BY_THE_SERVER.has(a)) return;
    if (!assets.includes(a)) { missing.push(`${from} → ${ref}`); return; }
    // Layers: a page may use lib/ and i18n/; lib/ may use i18n/; nothing imports a page but a page.
    if (a.startsWith('pages/') && !from.startsWith('pages/') && kindOf(from) !== 'html') upward.push(`${from} → ${a}`);
    if (a.startsWith('lib/') && from.startsWith('i18n/')) upward.push(`${from} → ${a}`);
    if (!reached.has(a)) { reached.add(a); queue.push(a); }
  };
  for (const p of pages) {
    for (const ref of references(fs.readFileSync(path.join(WEB, p), 'utf8'), 'html')) visit(p, ref, ORIGIN + '/');
  }
  while (queue.length) {
    const a = queue.shift();
    const kind = kindOf(a);
    if (!kind) continue;
    const text = fs.readFileSync(path.join(ASSETS, a), 'utf8');
    for (const ref of references(text, kind)) visit(a, ref, `${ORIGIN}/assets/${a}`);
  }
  assert.deepEqual(missing, [], 'references to files that do not exist');
  assert.deepEqual(upward, [], 'imports against the layers (pages → lib → i18n)');
  assert.deepEqual(assets.filter((a) => !reached.has(a)), [], 'assets no page reaches (dead files)');
});
