import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// WCAG AA contrast of the style sheet's colours: text ≥ 4.5:1 (1.4.3), control boundaries and
// the focus ring ≥ 3:1 against what is next to them (1.4.11). The colours are read from app.css.
const css = readFileSync(new URL('../../src/app.css', import.meta.url), 'utf8');
const vars = Object.fromEntries([...css.matchAll(/--([\w-]+):\s*(#[0-9a-fA-F]{3,6})\b/g)].map((m) => [m[1], m[2]]));
const color = (name) => (name.startsWith('#') ? name : vars[name] ?? assert.fail(`no --${name} in app.css`));

function luminance(hex) {
  let h = hex.slice(1);
  if (h.length === 3) h = [...h].map((c) => c + c).join('');
  const [r, g, b] = [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

function contrast(a, b) {
  const [hi, lo] = [luminance(color(a)), luminance(color(b))].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

const WHITE = '#ffffff';
const SURFACES = [WHITE, 'bg', 'card', 'map-bg', 'map-blank'];

test('text is at least 4.5:1 on its backgrounds', () => {
  const pairs = [
    ['ink', WHITE], ['ink', 'bg'], ['muted', WHITE], ['muted', 'bg'], ['muted', 'brand-soft'],
    [WHITE, 'brand'], [WHITE, 'brand-dark'], ['brand-dark', 'brand-soft'], ['danger', WHITE], ['danger', '#fdecea'],
    ['warn', '#fff4db'], ['placeholder', WHITE], ['cloudy-ink', 'cloudy'], ['muted', 'cloudy'],
    ['no-data-ink', 'no-data'], ['muted', 'no-data'], [WHITE, 'danger'],
  ];
  for (const [fg, bg] of pairs) assert.ok(contrast(fg, bg) >= 4.5, `${fg} on ${bg}: ${contrast(fg, bg).toFixed(2)}`);
});

test('control boundaries and the focus ring are at least 3:1 against the page, panels and map', () => {
  for (const surface of SURFACES) {
    assert.ok(contrast('control', surface) >= 3, `--control on ${surface}: ${contrast('control', surface).toFixed(2)}`);
    assert.ok(contrast('focus', surface) >= 3, `--focus on ${surface}: ${contrast('focus', surface).toFixed(2)}`);
    assert.ok(contrast('brand', surface) >= 3, `primary buttons on ${surface}`);
  }
  // The ring has a white gap inside, so on dark or coloured controls it is judged against white.
  assert.ok(contrast('focus', WHITE) >= 3);
  assert.ok(contrast('cloudy-ink', 'cloudy') >= 3 && contrast('no-data-ink', 'no-data') >= 3, 'week edges');
  assert.match(css, /:focus-visible \{ outline: 3px solid var\(--focus\)/);
  assert.doesNotMatch(css, /border: 1px solid #a9b6ad/, 'the old 2.1:1 input border is gone');
});

test('the map outlines are at least 3:1 on the base maps', () => {
  const farm = readFileSync(new URL('../../src/app/farm.js', import.meta.url), 'utf8');
  const field = /const FIELD_STYLE = \{ color: '(#\w+)'/.exec(farm)[1];
  const draft = /const DRAFT_COLOR = '(#\w+)'/.exec(farm)[1];
  const casing = /const CASING_STYLE = \{ color: '(#\w+)'/.exec(farm)[1];
  const selected = /const SELECTED_STYLE = \{ color: '(#\w+)'/.exec(farm)[1];
  for (const surface of ['map-bg', 'map-blank', WHITE]) {
    assert.ok(contrast(field, surface) >= 3, `field outline on ${surface}`);
    assert.ok(contrast(draft, surface) >= 3, `draft outline on ${surface}`);
    assert.ok(contrast(casing, surface) >= 3, `selected casing on ${surface}`);
  }
  assert.ok(contrast(selected, casing) >= 3, 'selected outline on its casing');
});
