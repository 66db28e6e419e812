import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DICTIONARIES, countFields, describeError, detectLanguage, translator } from '../../src/app/i18n.js';

test('the browser language picks pt-BR for any Portuguese, else English', () => {
  assert.equal(detectLanguage(['pt-BR', 'en']), 'pt-BR');
  assert.equal(detectLanguage(['pt-PT']), 'pt-BR');
  assert.equal(detectLanguage(['de-DE', 'en-GB']), 'en');
  assert.equal(detectLanguage(['fr']), 'en');
  assert.equal(detectLanguage([]), 'en');
});

test('both languages have the same keys', () => {
  assert.deepEqual(Object.keys(DICTIONARIES['pt-BR']).sort(), Object.keys(DICTIONARIES.en).sort());
});

test('placeholders are filled and unknown keys show as themselves', () => {
  const t = translator('en');
  assert.equal(t('fields.progress', { done: 5, total: 8 }), '5/8 weeks processed');
  assert.equal(translator('pt-BR')('fields.progress', { done: 5, total: 8 }), '5/8 semanas processadas');
  assert.equal(t('no.such.key'), 'no.such.key');
  assert.equal(t('map.area'), 'Area: {area}');
});

test('field counts agree in number', () => {
  const t = translator('pt-BR');
  assert.equal(countFields(t, 1), '1 talhão');
  assert.equal(countFields(t, 3), '3 talhões');
});

test('API validation errors are put in words', () => {
  const en = translator('en');
  assert.equal(describeError(en, { code: 'VALIDATION_ERROR', message: 'x', details: { field: 'geometry', reason: 'self_intersection' } }), 'Polygon crosses itself.');
  assert.equal(describeError(en, { code: 'VALIDATION_ERROR', message: 'x', details: { field: 'geometry', reason: 'too_small' } }), 'Area too small (min 0.1 ha).');
  assert.equal(describeError(translator('pt-BR'), { code: 'VALIDATION_ERROR', details: { field: 'geometry', reason: 'too_small' } }), 'Área pequena demais (mínimo 0,1 ha).');
});

test('validation messages follow the field, not only the reason word', () => {
  const en = translator('en');
  const pt = translator('pt-BR');
  // What the server answers to a name of only spaces (check_name in routes/auth.rs).
  const blankName = { code: 'VALIDATION_ERROR', message: 'name must not be empty', details: { field: 'name', reason: 'empty' } };
  assert.equal(describeError(en, blankName), 'Give a name (it cannot be blank).');
  assert.equal(describeError(pt, blankName), 'Dê um nome (não pode ficar em branco).');
  const noGeometry = { code: 'VALIDATION_ERROR', details: { field: 'geometry', reason: 'empty' } };
  assert.match(describeError(en, noGeometry), /no boundary/);
  assert.notEqual(describeError(en, blankName), describeError(en, noGeometry));
  assert.equal(describeError(en, { code: 'VALIDATION_ERROR', details: { field: 'password', reason: 'too_long' } }), 'The password is too long (max 256 characters).');
  assert.equal(describeError(en, { code: 'VALIDATION_ERROR', details: { field: 'name', reason: 'too_long' } }), 'The name is too long (max 200 characters).');
  // A pair the app does not know yet still names the field, in the user's language.
  assert.equal(describeError(pt, { code: 'VALIDATION_ERROR', details: { field: 'colour', reason: 'too_long' } }), 'colour: longo demais.');
  assert.equal(describeError(pt, { code: 'VALIDATION_ERROR', details: { field: 'colour', reason: 'odd' } }), 'Valor inválido em “colour”.');
});

// Every `ApiError::invalid(field, reason, …)` of the server, read from its source, so a new
// one without words in the app fails here.
const crates = fileURLToPath(new URL('../../../crates/', import.meta.url));

function rustSources(dir) {
  return readdirSync(dir, { recursive: true }).filter((f) => f.endsWith('.rs')).map((f) => readFileSync(join(dir, f), 'utf8'));
}

function serverValidationPairs() {
  const api = rustSources(join(crates, 'vivacampo-api/src')).join('\n');
  const pairs = new Set();
  for (const m of api.matchAll(/ApiError::invalid\(\s*"([^"]+)",\s*"([^"]+)"/g)) pairs.add(`${m[1]} ${m[2]}`);
  // Helpers that take the field as an argument.
  for (const m of api.matchAll(/check_name\("([^"]+)"/g)) ['empty', 'too_long'].forEach((r) => pairs.add(`${m[1]} ${r}`));
  for (const m of api.matchAll(/(?:parse_date|week_of_date)\("([^"]+)"/g)) pairs.add(`${m[1]} invalid`);
  // Geometry reasons come from vivacampo-core (InvalidReason::as_str).
  const core = readFileSync(join(crates, 'vivacampo-core/src/geometry/mod.rs'), 'utf8');
  for (const m of core.matchAll(/InvalidReason::\w+ => "(\w+)"/g)) pairs.add(`geometry ${m[1]}`);
  return [...pairs].map((p) => p.split(' '));
}

test('every validation error the server sends has its own sentence in both languages', () => {
  const pairs = serverValidationPairs();
  assert.ok(pairs.length > 40, `found ${pairs.length} pairs`);
  assert.ok(pairs.some(([f, r]) => f === 'geometry' && r === 'self_intersection'));
  assert.ok(pairs.some(([f, r]) => f === 'workspace_name' && r === 'empty'));
  for (const lang of ['pt-BR', 'en']) {
    const t = translator(lang);
    for (const [field, reason] of pairs) {
      assert.ok(DICTIONARIES[lang][`invalid.${field}.${reason}`], `${lang}: no words for ${field}/${reason}`);
      assert.equal(describeError(t, { code: 'VALIDATION_ERROR', message: 'x', details: { field, reason } }), t(`invalid.${field}.${reason}`));
    }
  }
});

test('every error code the server sends has words', () => {
  const errors = readFileSync(join(crates, 'vivacampo-api/src/error.rs'), 'utf8');
  const codes = [...errors.matchAll(/StatusCode::\w+, "([A-Z_]+)"/g)].map((m) => m[1]).filter((c) => c !== 'VALIDATION_ERROR');
  assert.ok(codes.length >= 10, codes.join());
  for (const lang of ['pt-BR', 'en']) {
    for (const code of [...codes, 'OFFLINE', 'HTTP_ERROR']) assert.ok(DICTIONARIES[lang][`error.${code}`], `${lang}: error.${code}`);
  }
});

test('other errors are in words by code and by the server message', () => {
  const en = translator('en');
  const pt = translator('pt-BR');
  const conflict = { code: 'CONFLICT', status: 409, message: 'an account with email ana@x.io already exists', details: {} };
  assert.equal(describeError(pt, conflict), 'Já existe uma conta com este e-mail. Entre com ela ou use outro endereço.');
  assert.doesNotMatch(describeError(pt, { ...conflict, message: 'something new' }), /something|Conflito:/);
  const closed = { code: 'FORBIDDEN', message: 'sign-up is disabled on this server; ask an administrator for an account' };
  assert.equal(describeError(en, closed), 'Sign-up is closed on this server. Ask an administrator for an account.');
  assert.equal(describeError(pt, { code: 'FORBIDDEN', message: 'this action needs the OPERATOR role; you are VIEWER' }), 'Esta ação exige o papel operador; o seu é leitor.');
  assert.equal(describeError(pt, { code: 'QUOTA_EXCEEDED', message: 'area quota exceeded: 1234.5 ha would exceed the limit of 1000.00 ha' }), 'Limite do plano atingido: 1.234,5 ha ultrapassaria o máximo de 1.000,0 ha.');
  assert.equal(describeError(en, { code: 'QUOTA_EXCEEDED', message: 'field quota exceeded: 10 of 10 fields in use' }), 'Plan limit reached: 10 of 10 fields in use.');
  assert.equal(describeError(en, { code: 'UNAUTHENTICATED', message: 'wrong email or password' }), 'Wrong email or password.');
  assert.equal(describeError(en, { code: 'RATE_LIMITED', message: 'too many requests; try again in 42 s' }), 'Too many attempts. Try again in 42 s.');
  assert.match(describeError(pt, { code: 'PAYLOAD_TOO_LARGE', message: 'request body is larger than the limit of 2097152 bytes' }), /máximo 2 MiB/);
  assert.match(describeError(en, { code: 'INTERNAL', message: 'internal error', requestId: 'abc123' }), /code abc123/);
  assert.equal(describeError(pt, { code: 'OFFLINE', message: 'network error' }), 'Sem conexão com o servidor.');
  assert.equal(describeError(en, { code: 'HTTP_ERROR', status: 502, message: 'HTTP 502' }), 'The server answered with an error (HTTP 502).');
  assert.equal(describeError(en, new TypeError('x is undefined')), 'Something went wrong in the app. Reload the page and try again.');
});
