DROP TABLE party_members;
