// What the simulated Spruce holds, per organization, with the lookups the API needs to stay
// fast at benchmark sizes (phone, email and integration-link indexes). Records are stored in
// our own shape and rendered to the API's shapes by contacts.ts / conversations.ts.

export type Gender = 'unknown' | 'male' | 'female' | 'other';
export type Category = 'patient' | 'professional' | 'clinic' | 'unknown';
export type LinkType = 'elation' | 'hint' | 'athena' | 'custom';

export interface StoredPhone {
  id: string;
  label?: string;
  value: string;
  displayValue: string;
}

export interface StoredEmail {
  id: string;
  label?: string;
  value: string;
}

export interface StoredLink {
  type: LinkType;
  externalId: string;
  url?: string;
}

export interface StoredContact {
  id: string;
  orgId: string;
  created: number;
  givenName?: string;
  middleName?: string;
  familyName?: string;
  companyName?: string;
  dateOfBirth?: string;
  gender: Gender;
  genderDetail?: string;
  pronouns?: string;
  category: Category;
  phoneNumbers: StoredPhone[];
  faxNumbers: StoredPhone[];
  emailAddresses: StoredEmail[];
  tagIds: string[];
  /** Organization contact field id → value (values are strings). */
  fields: Map<string, string>;
  links: StoredLink[];
  internalMemberIds: string[];
  hasAccount: boolean;
  hasPendingInvite: boolean;
}

export type ConversationType = 'email' | 'phone' | 'secure' | 'fax' | 'team' | 'note' | 'other';

export interface StoredConversation {
  id: string;
  orgId: string;
  type: ConversationType;
  title?: string;
  createdAt: number;
  lastMessageAt?: number;
  archived: boolean;
  tagIds: string[];
  assignedToMemberId?: string;
  /** Phone conversations: the external number (E.164 + display). */
  externalPhone?: { value: string; displayValue: string };
  /** Secure conversations: the contact on the other side. */
  secureContactId?: string;
  /** Note conversations: contacts the note is about. */
  noteContactIds?: string[];
}

export interface StoredAuthor {
  displayName: string;
  id?: string;
  deviceInformation?: { accessID?: string };
}

export interface StoredItem {
  id: string;
  orgId: string;
  conversationId: string;
  text: string;
  direction: 'inbound' | 'outbound' | 'none';
  isInternalNote: boolean;
  author: StoredAuthor;
  createdAt: number;
  modifiedAt: number;
  requestId: string;
  canDelete: boolean;
  event?: { type: 'inboundCall' | 'outboundCall'; data: Record<string, unknown> };
  /** Deleted in the app or through the API: hidden from the API until restored. */
  deletedAt?: number;
}

export interface StoredScheduledMessage {
  id: string;
  orgId: string;
  conversationId: string;
  text: string;
  isInternalNote: boolean;
  /** The member (teammate or the organization) the message goes out as. */
  sendAs: { id: string; displayName: string };
  createdAt: number;
  modifiedAt: number;
  sendAt: number;
  /** Set once sent: the item it became. */
  sentConversationItemId?: string;
  /** What it was posted with through the API (for the item's author.deviceInformation). */
  accessId?: string;
}

export interface StoredEndpoint {
  id: string;
  orgId: string;
  name: string;
  url: string;
  createdAt: number;
  paused: boolean;
  secretId: string;
  secret: string;
}

export interface Teammate {
  id: string;
  displayName: string;
}

export interface OrganizationConfig {
  id: string;
  accessId: string;
  secretKey: string;
  name?: string;
  /** Requests per 60 s window; default 100; 0 = unlimited. */
  rateLimitPerMinute?: number;
  /** Requests per 24 h window; default 0 = not limited (and no daily headers). */
  rateLimitPerDay?: number;
  /** Pre-existing fake contacts (seeded), so that matching has something to find. */
  contacts?: number;
}

export class OrgState {
  readonly contacts = new Map<string, StoredContact>();
  readonly tags = new Map<string, { id: string; value: string }>();
  readonly fields = new Map<string, { id: string; name: string }>();
  readonly conversationTags = new Map<string, { id: string; value: string }>();
  readonly conversations = new Map<string, StoredConversation>();
  readonly items = new Map<string, StoredItem>();
  readonly itemsByConversation = new Map<string, string[]>();
  readonly scheduledMessages = new Map<string, StoredScheduledMessage>();
  readonly endpoints = new Map<string, StoredEndpoint>();
  /** Indexes: E.164 phone / lower-case email / `type|externalId` → contact ids. */
  readonly phoneIndex = new Map<string, Set<string>>();
  readonly emailIndex = new Map<string, Set<string>>();
  readonly linkIndex = new Map<string, Set<string>>();
  disabled = false;

  constructor(
    readonly config: Required<Omit<OrganizationConfig, 'contacts'>>,
    readonly teammates: Teammate[],
    /** The organization's Spruce phone number (the internal endpoint of phone conversations). */
    readonly phoneLine: { id: string; value: string; displayValue: string },
    /** The organization's Spruce Link (the internal endpoint of secure conversations). */
    readonly spruceLink: { id: string; url: string },
  ) {}

  get id(): string {
    return this.config.id;
  }

  /** Call before changing a contact's phones, emails or links … */
  unindex(contact: StoredContact): void {
    for (const p of contact.phoneNumbers) removeFrom(this.phoneIndex, p.value, contact.id);
    for (const e of contact.emailAddresses) removeFrom(this.emailIndex, e.value.toLowerCase(), contact.id);
    for (const l of contact.links) removeFrom(this.linkIndex, linkKey(l.type, l.externalId), contact.id);
  }

  /** … and this after. */
  index(contact: StoredContact): void {
    for (const p of contact.phoneNumbers) addTo(this.phoneIndex, p.value, contact.id);
    for (const e of contact.emailAddresses) addTo(this.emailIndex, e.value.toLowerCase(), contact.id);
    for (const l of contact.links) addTo(this.linkIndex, linkKey(l.type, l.externalId), contact.id);
  }

  contactsWithPhone(e164: string): string[] {
    return [...(this.phoneIndex.get(e164) ?? [])].sort();
  }
}

export function linkKey(type: string, externalId: string): string {
  return `${type}|${externalId}`;
}

function addTo(index: Map<string, Set<string>>, key: string, id: string): void {
  let set = index.get(key);
  if (!set) index.set(key, (set = new Set()));
  set.add(id);
}

function removeFrom(index: Map<string, Set<string>>, key: string, id: string): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}

/** All organizations of one simulator. */
export class SpruceState {
  readonly orgs = new Map<string, OrgState>();

  org(id: string): OrgState | undefined {
    return this.orgs.get(id);
  }

  /** The organization holding a contact / conversation / item / endpoint id, if any. */
  findContact(id: string): { org: OrgState; contact: StoredContact } | undefined {
    for (const org of this.orgs.values()) {
      const contact = org.contacts.get(id);
      if (contact) return { org, contact };
    }
    return undefined;
  }

  findConversation(id: string): { org: OrgState; conversation: StoredConversation } | undefined {
    for (const org of this.orgs.values()) {
      const conversation = org.conversations.get(id);
      if (conversation) return { org, conversation };
    }
    return undefined;
  }
}
