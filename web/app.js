// The dashboard shell: sign-in, navigation by URL hash (#view?key=value, so views can be
// bookmarked and linked), and the error / notice line.
/* global location, history, URLSearchParams */
import { api, setUnauthorizedHandler, signIn, signOut, token } from './api.js';
import { renderAudit } from './audit.js';
import { renderDeadLetters } from './dead-letters.js';
import { renderEvents } from './events.js';
import { renderOverview } from './overview.js';
import { renderPatient } from './patient.js';
import { renderTenants } from './tenants.js';

const VIEWS = {
  overview: renderOverview,
  events: renderEvents,
  patient: renderPatient,
  'dead-letters': renderDeadLetters,
  audit: renderAudit,
  tenants: renderTenants,
};

const $ = (id) => document.getElementById(id);
let tenants = [];
let leaveView = null;

function flash(message, tone = 'ok') {
  const el = $('flash');
  el.textContent = message;
  el.className = `flash ${tone}`;
  el.hidden = false;
  clearTimeout(flash.timer);
  flash.timer = setTimeout(() => (el.hidden = true), 6000);
}

function fail(error) {
  if (error?.status === 401) return;
  flash(error?.message ?? String(error), 'bad');
}

function parseHash() {
  const [name, search] = location.hash.replace(/^#/, '').split('?');
  return { name: VIEWS[name] ? name : 'overview', params: Object.fromEntries(new URLSearchParams(search ?? '')) };
}

/** Records a view's filters in the URL without re-rendering it. */
function setParams(values) {
  const { name } = parseHash();
  const search = new URLSearchParams(values).toString();
  history.replaceState(null, '', `#${name}${search ? `?${search}` : ''}`);
}

async function route() {
  leaveView?.();
  leaveView = null;
  const { name, params } = parseHash();
  for (const link of document.querySelectorAll('#nav a')) link.classList.toggle('active', link.dataset.view === name);
  for (const section of document.querySelectorAll('.view')) section.hidden = section.id !== `view-${name}`;
  try {
    const leave = await VIEWS[name]($(`view-${name}`), { tenants, flash, fail, setParams }, params);
    if (typeof leave === 'function') leaveView = leave;
  } catch (error) {
    fail(error);
  }
}

function showLogin(message = '') {
  leaveView?.();
  leaveView = null;
  $('main').hidden = true;
  $('nav').hidden = true;
  $('logout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  $('token').focus();
}

async function start() {
  try {
    // Also checks the token: a 401 lands back on the sign-in form. One query whatever the number of clinics.
    tenants = (await api('/tenant-figures?limit=1000')).tenants.map((t) => t.tenantId).sort();
  } catch (error) {
    if (error.status !== 401) showLogin(error.message);
    return;
  }
  $('login').hidden = true;
  $('main').hidden = false;
  $('nav').hidden = false;
  $('logout').hidden = false;
  await route();
}

setUnauthorizedHandler(() => {
  const hadToken = Boolean(token());
  signOut();
  showLogin(hadToken ? 'That token was not accepted.' : '');
});

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  signIn($('token').value.trim());
  $('token').value = '';
  start();
});
$('logout').addEventListener('click', () => {
  signOut();
  showLogin();
});
window.addEventListener('hashchange', () => {
  if (token()) route();
});

if (token()) start();
else showLogin();
