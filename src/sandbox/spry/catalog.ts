// Small fixed vocabularies for the seeded data: what a physical-therapy practice actually sees.

export const CONDITIONS: readonly {
  title: string;
  specialization: string;
  icd: readonly (readonly [code: string, description: string])[];
}[] = [
  { title: 'Low back pain', specialization: 'Orthopedic', icd: [['M54.50', 'Low back pain, unspecified']] },
  {
    title: 'Right knee ACL reconstruction rehab',
    specialization: 'Sports',
    icd: [
      ['S83.511D', 'Sprain of anterior cruciate ligament of right knee, subsequent encounter'],
      ['Z47.89', 'Encounter for other orthopedic aftercare'],
    ],
  },
  {
    title: 'Left shoulder rotator cuff tear',
    specialization: 'Orthopedic',
    icd: [['M75.102', 'Unspecified rotator cuff tear or rupture of left shoulder, not specified as traumatic']],
  },
  { title: 'Neck pain', specialization: 'Orthopedic', icd: [['M54.2', 'Cervicalgia']] },
  {
    title: 'Right ankle sprain',
    specialization: 'Sports',
    icd: [['S93.401D', 'Sprain of unspecified ligament of right ankle, subsequent encounter']],
  },
  {
    title: 'Post-stroke gait training',
    specialization: 'Neurological',
    icd: [
      ['I69.351', 'Hemiplegia and hemiparesis following cerebral infarction affecting right dominant side'],
      ['R26.89', 'Other abnormalities of gait and mobility'],
    ],
  },
  { title: 'Vertigo (BPPV)', specialization: 'Vestibular', icd: [['H81.10', 'Benign paroxysmal vertigo, unspecified ear']] },
  {
    title: 'Left total knee arthroplasty rehab',
    specialization: 'Orthopedic',
    icd: [
      ['Z96.652', 'Presence of left artificial knee joint'],
      ['M17.12', 'Unilateral primary osteoarthritis, left knee'],
    ],
  },
  { title: 'Plantar fasciitis', specialization: 'Orthopedic', icd: [['M72.2', 'Plantar fascial fibromatosis']] },
  { title: 'Tennis elbow (right)', specialization: 'Orthopedic', icd: [['M77.11', 'Lateral epicondylitis, right elbow']] },
  { title: 'Lumbar radiculopathy', specialization: 'Spine', icd: [['M54.16', 'Radiculopathy, lumbar region']] },
  {
    title: 'Pelvic floor dysfunction',
    specialization: 'Pelvic Health',
    icd: [
      ['N39.3', 'Stress incontinence (female) (male)'],
      ['M62.89', 'Other specified disorders of muscle'],
    ],
  },
  {
    title: 'Concussion recovery',
    specialization: 'Neurological',
    icd: [['S06.0X0D', 'Concussion without loss of consciousness, subsequent encounter']],
  },
  {
    title: 'Developmental delay',
    specialization: 'Pediatric',
    icd: [['R62.50', 'Unspecified lack of expected normal physiological development in childhood']],
  },
];

export const PAYERS: readonly { name: string; payer_id: string }[] = [
  { name: 'Aetna', payer_id: '60054' },
  { name: 'Cigna', payer_id: '62308' },
  { name: 'UnitedHealthcare', payer_id: '87726' },
  { name: 'Humana', payer_id: '61101' },
  { name: 'Blue Cross Blue Shield of Texas', payer_id: '84980' },
  { name: 'Anthem Blue Cross', payer_id: '47198' },
  { name: 'Medicare Part B', payer_id: '04412' },
  { name: 'Kaiser Permanente', payer_id: '94134' },
  { name: 'TRICARE West', payer_id: '99726' },
];

/** Real US area codes, so numbers look like the ones a clinic stores. */
export const AREA_CODES = [
  201, 205, 206, 210, 212, 213, 214, 215, 216, 224, 303, 305, 312, 313, 317, 404, 407, 412, 415, 469, 480,
  503, 510, 512, 602, 612, 617, 619, 646, 702, 704, 713, 718, 720, 773, 786, 801, 816, 818, 832, 858, 904,
  917, 919, 949, 972,
] as const;

export const APPOINTMENT_COMMENTS = [
  null,
  null,
  null,
  'Bring previous imaging',
  'Follow-up after home exercise program',
  'Patient requested morning slots',
  'Re-evaluation due',
  'Aquatic therapy session',
  'Dry needling consent on file',
] as const;

export const CLINIC_SUFFIXES = ['Physical Therapy', 'Sports & Spine', 'Rehab Center', 'PT & Wellness'] as const;

/** Appointment categories as Spry numbers them (1 initial eval … 4 discharge visit). */
export const CATEGORY_IDS = [1, 2, 2, 2, 3, 4] as const;
