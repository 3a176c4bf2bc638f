// A verified Spry delivery becomes one inbox row: what it is, what it is about, and which
// job it feeds. Spry events are minimized (ids and a status), so every kind of event about a
// patient feeds the same per-patient job, which fetches the current records.
import { z } from 'zod';
import type { NewInboundEvent } from '../store/types.ts';
import { SPRY_EVENT_TYPES, type SpryEventType } from '../spry/types.ts';
import { taskJob } from '../sync/tasks.ts';

const envelopeSchema = z.object({
  event_id: z.string().min(1).max(200),
  event_type: z.string().min(1).max(200),
  api_version: z.string().min(1),
  timestamp: z.number().int().nonnegative(),
  data: z
    .object({
      organisation_id: z.number().int(),
      // Test deliveries carry placeholder ids (0); real events are checked below.
      patient_id: z.number().int().nonnegative().optional(),
      appointment_id: z.number().int().nonnegative().optional(),
      spry_case_id: z.string().nullable().optional(),
      clinic_id: z.number().int().optional(),
      status: z.string().optional(),
      treatment_status: z.string().optional(),
    })
    .loose(),
  test: z.boolean().optional(),
});

export type SpryEnvelope = z.infer<typeof envelopeSchema>;

export type ParsedSpry =
  | { ok: true; envelope: SpryEnvelope }
  | { ok: false; problem: string };

export function parseSpryEnvelope(body: unknown): ParsedSpry {
  const result = envelopeSchema.safeParse(body);
  if (!result.success) {
    return { ok: false, problem: result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ') };
  }
  const { envelope } = { envelope: result.data };
  if (isKnownType(envelope.event_type) && !envelope.test && !(envelope.data.patient_id! > 0)) {
    return { ok: false, problem: 'data.patient_id: a positive id is required for this event type' };
  }
  return { ok: true, envelope };
}

function isKnownType(type: string): type is SpryEventType {
  return (SPRY_EVENT_TYPES as readonly string[]).includes(type);
}

export function spryInboundEvent(
  tenantId: string,
  envelope: SpryEnvelope,
  rawBody: Buffer,
  receivedAt: number,
  coalesceMs = 0,
): NewInboundEvent {
  const { data } = envelope;
  const subject: Record<string, string | number> = {};
  if (data.patient_id !== undefined) subject.patientId = data.patient_id;
  if (data.appointment_id !== undefined) subject.appointmentId = data.appointment_id;
  if (data.spry_case_id) subject.caseId = data.spry_case_id;
  const base = {
    tenantId,
    source: 'spry' as const,
    eventKey: envelope.event_id,
    type: envelope.event_type,
    occurredAt: envelope.timestamp * 1000,
    receivedAt,
    payload: rawBody,
    subject,
  };
  if (envelope.test) return { ...base, status: 'test' };
  if (!isKnownType(envelope.event_type)) return { ...base, status: 'ignored' };
  const patientId = data.patient_id!;
  return {
    ...base,
    status: 'queued',
    job: { ...taskJob('spry.patient', { patientId }, { organisationId: data.organisation_id }), runAt: receivedAt + coalesceMs },
  };
}
