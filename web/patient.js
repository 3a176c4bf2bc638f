// A patient's timeline: every event, attempt and audit entry for the patient (Spry) and the
// linked contact (Spruce), newest first.
import { api, query } from './api.js';
import { clear, field, formValues, h, select } from './dom.js';
import { detailPairs, duration, time } from './format.js';
import { statusBadge } from './events.js';

function describe(item) {
  if (item.kind === 'event') {
    const e = item.event;
    return [
      h('td', {}, e.source === 'spry' ? 'Spry → Spruce' : 'Spruce → Spry'),
      h('td', {}, `event #${e.id} ${e.type}`),
      h('td', {}, statusBadge(e.status)),
      h('td', {}, e.reason ?? ''),
    ];
  }
  if (item.kind === 'attempt') {
    const a = item.attempt;
    return [
      h('td', {}, item.jobKey.startsWith('spry') ? 'Spry → Spruce' : 'Spruce → Spry'),
      h('td', {}, `attempt (${duration(a.finishedAt - a.startedAt)}) for event #${item.eventId}`),
      h('td', {}, statusBadge(a.outcome === 'succeeded' ? 'processed' : a.outcome === 'dead' ? 'dead' : 'queued'), ' ', a.outcome),
      h('td', { class: 'mono' }, [a.errorCode, a.requestId ? `s-request-id ${a.requestId}` : null].filter(Boolean).join(' · ')),
    ];
  }
  const a = item.audit;
  const detail = detailPairs(a.detail).map(([key, value]) => `${key}: ${value}`).join(' · ');
  return [
    h('td', {}, a.system === 'spry' ? 'in Spry' : 'in Spruce'),
    h('td', {}, `${a.action} ${a.recordType} ${a.recordId}`),
    h('td', {}, h('span', { class: 'badge muted' }, 'audit')),
    h('td', {}, detail),
  ];
}

export async function renderPatient(root, ctx, params) {
  const form = h(
    'form',
    { class: 'filters' },
    field('Tenant', select('tenantId', ctx.tenants.map((t) => [t, t]), params.tenantId)),
    field('Spry patient id', h('input', { name: 'patientId', inputmode: 'numeric', value: params.patientId ?? '' })),
    field('or Spruce contact id', h('input', { name: 'contactId', value: params.contactId ?? '' })),
    h('button', { type: 'submit' }, 'Show timeline'),
  );
  const result = h('div');
  clear(root).append(h('div', { class: 'view-head' }, h('h1', {}, 'Patient timeline')), form, result);

  const show = async (values) => {
    if (!values.patientId && !values.contactId) {
      clear(result).append(h('p', { class: 'muted' }, 'Find a patient by Spry patient id or Spruce contact id.'));
      return;
    }
    const timeline = await api(
      `/tenants/${encodeURIComponent(values.tenantId)}/timeline${query({ patientId: values.patientId, contactId: values.patientId ? undefined : values.contactId })}`,
    );
    clear(result).append(
      h(
        'div',
        { class: 'card identity' },
        h('div', {}, h('span', { class: 'muted' }, 'Spry patient '), h('strong', { id: 'timeline-patient' }, timeline.patientId ?? '— (not linked)')),
        h('div', {}, h('span', { class: 'muted' }, 'Spruce contact '), h('strong', { class: 'mono' }, timeline.contactId ?? '— (not linked)')),
        h('div', { class: 'muted' }, `${timeline.items.length} entries`),
      ),
      timeline.items.length === 0
        ? h('p', { class: 'muted' }, 'Nothing recorded for this patient.')
        : h(
            'table',
            { class: 'list timeline' },
            h('thead', {}, h('tr', {}, ['when', 'direction', 'what', 'status', 'detail'].map((t) => h('th', {}, t)))),
            h('tbody', {}, timeline.items.map((item) => h('tr', { class: `kind-${item.kind}` }, h('td', {}, time(item.at)), describe(item)))),
          ),
    );
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const values = formValues(form);
    ctx.setParams(values);
    show(values).catch(ctx.fail);
  });
  await show({ tenantId: params.tenantId ?? ctx.tenants[0], ...params });
}
